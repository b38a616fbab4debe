import { DEFAULT_MAX_DESTINATIONS, DEFAULT_SETTINGS } from "@kroute/core";
import { API_GROUPS, LOG_LEVELS } from "./agent-settings.ts";

/**
 * What `kroute-agent --help` prints. Most defaults here are written out by hand: change
 * them together with the parser's fallback in agent-settings.ts.
 */
export const USAGE = `usage: kroute-agent [flags]        run the agent (NODE_NAME must be set)
       kroute-agent cleanup [flags] remove every route, rule and nexthop kroute owns on this node:
                                    those of --protocol and --adopt-protocol, or of each protocol
                                    of --protocols LIST (e.g. 201,202); flags: --netns, --dry-run

flags (each also as env KROUTE_<FLAG>, e.g. KROUTE_PROBE_INTERVAL):
  --node-name NAME             default: env NODE_NAME (downward API)
  --api-group GROUP            ${API_GROUPS.join(" | ")} (default ${API_GROUPS[0]})
  --api-server-namespace NS    namespace of the kubernetes Service (its EndpointSlices) (default
                               default); Events are written in default whatever it is
  --protocol N                 route protocol tag kroute owns, 1..255 (default ${DEFAULT_SETTINGS.protocol})
  --adopt-protocol N           the tag kroute used before --protocol changed: its routes, rules and
                               nexthops are handed over to --protocol without a gap (deploy/README.md)
  --metric N                   metric of kroute's routes (default ${DEFAULT_SETTINGS.metric})
  --table-reply N              table of the reply source rule (default ${DEFAULT_SETTINGS.replyTable})
  --route-tables LIST          the only tables Routes may write, e.g. 254,100-199 (default any
                               but 253, 255 and the reply table)
  --max-destinations N         the most Route destinations this node programs; past it older Routes
                               go first, the rest are refused in status (default ${DEFAULT_MAX_DESTINATIONS})
  --nexthop-mode MODE          auto | groups | multipath (default auto)
  --resilient-buckets N        buckets of resilient groups, 0 = hash-threshold groups (default 128)
  --resilient-idle-timer DUR   e.g. 120s (default 120s)
  --multipath-hash-policy N    0 = L3, 1 = L4, 2 = L3 inner (default 1)
  --probe-interval DUR         (default 1s)
  --probe-timeout DUR          (default 1s; at most the interval)
  --probe-fall N               failures to mark a gateway down (default 3)
  --probe-rise N               successes to mark it up again (default 2)
  --protect CIDR               a prefix no Route may target (pod, service CIDRs); repeatable
                               (env: comma-separated)
  --keep-original CIDR         also kept via the original gateway under a default-route override; repeatable
  --resolv-conf FILE           the host's resolv.conf, as the host names it (its nameservers are
                               protected); repeatable (default /etc/resolv.conf)
  --host-root DIR              where the host's directories are mounted; the host's links are
                               followed under it (default /: the agent runs on the host)
  --metadata-address IP        cloud metadata address kept via the original gateway (default 169.254.169.254)
  --resync-interval DUR        periodic full kernel resync (default 5m)
  --metrics-address HOST:PORT  Prometheus /metrics (default 127.0.0.1:9464)
  --health-address HOST:PORT   /livez and /readyz, loopback only (default 127.0.0.1:9465)
  --dry-run                    compute and report, never write to the kernel
  --optimizing-compilers       let V8 optimize hot code: about 20 MiB more memory, for half the CPU
                               per Route change in very large tables (default off)
  --record FILE                append every consumed event to FILE as JSON Lines
  --netns NAME                 work in the named network namespace (tests, simulator)
  --kubeconfig FILE            default: in-cluster config, else KUBECONFIG / ~/.kube/config
  --log-level LEVEL            ${LOG_LEVELS.join(" | ")} (default info)`;
