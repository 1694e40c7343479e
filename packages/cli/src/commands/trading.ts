/**
 * `upline trading halt | reduce | resume | show`: the kill switch, KV `control`
 * key `trading` (a ControlState), enforced by order-exec and the signer. Every
 * change is an audit event `audit.v1.cli.trading` that JetStream must
 * acknowledge. Order of the two writes: a halt or reduce takes effect first
 * (stopping trading must never wait on audit) and then is audited — if the
 * audit record is not acknowledged the command fails and says the state did
 * change; a resume is audited first and applied only once the record is stored.
 */
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import {
  ControlState,
  createAuditPublisher,
  decodeMessage,
  type TradingState,
  UplineError,
} from "@upline/shared";
import { withBus } from "../bus.ts";
import { type Command, UsageError } from "../cli.ts";
import { actorOf, cliConfig } from "../config.ts";
import { ExitCode, printJson } from "../output.ts";
import { traced } from "./order.ts";

const VERB: Record<string, TradingState> = {
  halt: "halted",
  reduce: "reducing",
  resume: "active",
};

const MEANING: Record<TradingState, string> = {
  active: "orders flow normally",
  reducing: "no new buys; sells and cancels go through",
  halted: "cancels and reads only; order-exec and the signer refuse new orders",
};

function change(verb: "halt" | "reduce" | "resume"): Command {
  const target = VERB[verb] as TradingState;
  return {
    path: ["trading", verb],
    summary: `set the kill switch to ${target} (${MEANING[target]}); audited`,
    usage: '--reason "why" [--json]',
    run: async (args, io) => {
      const { values } = parseArgs({
        args: [...args],
        options: { reason: { type: "string" }, json: { type: "boolean", default: false } },
        strict: true,
      });
      const reason = values.reason?.trim();
      if (!reason)
        throw new UsageError("--reason is required: say why, it goes into the audit log");
      if (reason.length > 500) throw new UsageError("--reason is longer than 500 characters");
      const config = cliConfig(io.env);
      const actor = actorOf(config);
      return withBus(config, ({ nc, subjects }) =>
        traced(`upline trading ${verb}`, async (traceId) => {
          const kv = await new Kvm(nc).open(subjects.buckets.control);
          const audit = createAuditPublisher(jetstream(nc), subjects, "cli");
          const before = await kv.get(subjects.controlTradingKey);
          const previous =
            before?.operation === "PUT" && before.value.length > 0
              ? decodeMessage(ControlState, before.value, "control/trading").state
              : undefined;
          const state: ControlState = {
            state: target,
            reason,
            actor,
            updated_at: new Date().toISOString(),
          };
          const record = (revision: number | undefined) =>
            audit.record({
              kind: "trading",
              outcome: "ok",
              actor,
              data: {
                state: target,
                previous: previous ?? null,
                reason,
                revision: revision ?? null,
              },
            });
          let revision: number;
          if (target === "active") {
            await record(undefined);
            revision = await kv.put(subjects.controlTradingKey, JSON.stringify(state));
          } else {
            revision = await kv.put(subjects.controlTradingKey, JSON.stringify(state));
            try {
              await record(revision);
            } catch (err) {
              throw new UplineError(
                (err as UplineError).code ?? "PUBLISH_NOT_ACKED",
                `trading IS now ${target} (revision ${revision}), but its audit record was not acknowledged: ${(err as Error).message}`,
                { cause: err },
              );
            }
          }
          if (values.json) printJson(io, { ...state, previous, revision, trace_id: traceId });
          else
            io.out(
              `trading ${target} (was ${previous ?? "unset"}): ${MEANING[target]}\n  reason: ${reason}\n  actor: ${actor}  revision ${revision}  audited\n`,
            );
          return ExitCode.Ok;
        }),
      );
    },
  };
}

const show: Command = {
  path: ["trading", "show"],
  summary: "show the kill switch's state, who set it and why",
  usage: "[--json]",
  run: async (args, io) => {
    const { values } = parseArgs({
      args: [...args],
      options: { json: { type: "boolean", default: false } },
      strict: true,
    });
    const config = cliConfig(io.env);
    return withBus(config, async ({ nc, subjects }) => {
      const kv = await new Kvm(nc).open(subjects.buckets.control);
      const e = await kv.get(subjects.controlTradingKey);
      const state =
        e?.operation === "PUT" && e.value.length > 0
          ? decodeMessage(ControlState, e.value, "control/trading")
          : undefined;
      if (values.json) printJson(io, state ?? null);
      else if (state === undefined)
        io.out(
          "trading state unset: the signer refuses grants until it is set (`upline trading resume --reason …`)\n",
        );
      else
        io.out(
          `trading ${state.state}: ${MEANING[state.state]}\n  reason: ${state.reason}\n  actor: ${state.actor}  at ${state.updated_at}  revision ${e?.revision}\n`,
        );
      return ExitCode.Ok;
    });
  },
};

export const tradingCommands: readonly Command[] = [
  change("halt"),
  change("reduce"),
  change("resume"),
  show,
];
