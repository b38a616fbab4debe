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
      // The wall clock, as the kernel's `meta time` that kills and revives a gateway.
      events.next({ ...e, at: Date.now() });
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
    // The second is the kernel's, not this test's: the gateway dies and answers again at
    // whole seconds of the kernel's clock, its rules loaded beforehand however long that
    // takes (an `nft` spawn, slow on a loaded machine, is no part of the tracker's second).
    const diesAt = Math.ceil((Date.now() + 2000) / 1000) * 1000;
    const recoversAt = diesAt + 3000;
    await topology.killAt(gw.index, diesAt, recoversAt);
    try {
      const [down4, down6] = await Promise.all([next(gw.v4, false, diesAt), next(gw.v6, false, diesAt)]);
      expect(down4.at - diesAt).toBeLessThan(1000);
      expect(down6.at - diesAt).toBeLessThan(1000);
      expect(down4).toMatchObject({ type: "probe/result", node: "n1", up: false });

      const up4 = await next(gw.v4, true, recoversAt);
      expect(up4.at - recoversAt).toBeLessThan(1000);
    } finally {
      await topology.recover(gw.index);
    }
    // The other gateway never went down meanwhile.
    const other = topology.gateways[1]!;
    expect(seen.filter((e) => (e.gateway === other.v4 || e.gateway === other.v6) && !e.up)).toEqual([]);
  });
});
