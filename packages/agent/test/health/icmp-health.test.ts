import { createIcmpProber, type IcmpProber } from "@kroute/driver-netlink";
import { createTopology, type Topology } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import {
  BehaviorSubject,
  filter,
  firstValueFrom,
  type Observable,
  ReplaySubject,
  type Subscription,
} from "rxjs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FAST_PROBE_SETTINGS } from "../../src/health/presets.ts";
import { type ProbeResultBody, trackGatewayHealth } from "../../src/health/tracker.ts";

describeAsRoot("gateway health over real ICMP, fast settings", () => {
  let topology: Topology;
  let prober: IcmpProber;
  let subscription: Subscription;
  const events = new ReplaySubject<ProbeResultBody & { at: number }>();
  const seen: ProbeResultBody[] = [];
  let events$: Observable<ProbeResultBody & { at: number }>;

  beforeAll(async () => {
    topology = await createTopology({ gateways: 2 });
    prober = createIcmpProber({ netns: topology.node.name });
    const gateways = topology.gateways.flatMap((g) => [g.v4, g.v6]);
    subscription = trackGatewayHealth(new BehaviorSubject(gateways), {
      node: "n1",
      settings: FAST_PROBE_SETTINGS,
      probe: (gateway, timeoutMs) => prober.echo(gateway, timeoutMs),
    }).subscribe((e) => {
      seen.push(e);
      events.next({ ...e, at: performance.now() });
    });
    events$ = events.asObservable();
  });
  afterAll(async () => {
    subscription?.unsubscribe();
    prober?.close();
    await topology?.destroy();
  });

  const next = (gateway: string, up: boolean, after: number) =>
    firstValueFrom(events$.pipe(filter((e) => e.gateway === gateway && e.up === up && e.at >= after)));

  it("reports every gateway up, with its round-trip time", async () => {
    for (const g of topology.gateways) {
      for (const address of [g.v4, g.v6]) {
        const up = await next(address, true, 0);
        expect(up.rttMs).toBeGreaterThan(0);
        expect(up.rttMs).toBeLessThan(100);
      }
    }
  });

  it("reports a dead gateway down in under a second, both families, and up again once recovered", async () => {
    const gw = topology.gateways[0]!;
    const killedAt = performance.now();
    await topology.kill(1);
    const [down4, down6] = await Promise.all([next(gw.v4, false, killedAt), next(gw.v6, false, killedAt)]);
    expect(down4.at - killedAt).toBeLessThan(1000);
    expect(down6.at - killedAt).toBeLessThan(1000);
    expect(down4).toMatchObject({ type: "probe/result", node: "n1", up: false });

    const recoveredAt = performance.now();
    await topology.recover(1);
    const up4 = await next(gw.v4, true, recoveredAt);
    expect(up4.at - recoveredAt).toBeLessThan(1000);
    // The other gateway never went down meanwhile.
    const other = topology.gateways[1]!;
    expect(seen.filter((e) => (e.gateway === other.v4 || e.gateway === other.v6) && !e.up)).toEqual([]);
  });
});
