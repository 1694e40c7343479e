// The image's HEALTHCHECK (no curl in the image): exits 0 when the service's liveness
// endpoint answers 2xx. HEALTHCHECK_URL overrides; the simulator has no /healthz and
// is asked for its market list instead.
const url =
  process.env.HEALTHCHECK_URL ??
  (process.env.UPLINE_SERVICE === "upbit-sim"
    ? `http://127.0.0.1:${process.env.UPBIT_SIM_PORT ?? "4100"}/v1/market/all`
    : `http://127.0.0.1:${process.env.HEALTH_PORT ?? "8080"}/healthz`);
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_500) });
  process.exitCode = res.ok ? 0 : 1;
} catch {
  process.exitCode = 1;
}
