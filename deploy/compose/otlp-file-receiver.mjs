// A stand-in for the OpenTelemetry Collector where no collector image can be
// pulled (CI): OTLP/HTTP JSON in on :4318, each export request appended as one line
// to the same file the collector's file exporter writes. Accepts (and ignores) the
// collector's --config flag so docker-compose runs either image unchanged.
import { appendFile, mkdir } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname } from "node:path";

const file = process.env.OTLP_FILE ?? "/var/lib/otel/traces.jsonl";
await mkdir(dirname(file), { recursive: true });

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    if (req.method === "GET") {
      res.writeHead(200).end("ok\n");
      return;
    }
    const type = req.headers["content-type"] ?? "";
    if (req.method !== "POST" || !req.url?.startsWith("/v1/")) {
      res.writeHead(404).end();
      return;
    }
    if (!type.includes("json")) {
      // Protobuf would need the OTLP schema; upline's exporters send JSON.
      res.writeHead(415).end();
      return;
    }
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (req.url.startsWith("/v1/traces")) await appendFile(file, `${JSON.stringify(body)}\n`);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    } catch {
      res.writeHead(400).end();
    }
  });
});
server.listen(4318, "0.0.0.0");
const stop = () => server.close(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
