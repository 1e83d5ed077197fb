/**
 * The radio between the virtual devices one process hosts (an agent's bench): an ESP32 app advertises a
 * service (BLE provisioning, as ESP-IDF's network_provisioning does), and a phone's scripted test scans
 * for it by name prefix and talks to it. Boards on one agent are "in range" of each other, as boards on
 * one real bench are; a multi-board run always gets its boards from one agent.
 */
export interface AirReply {
  ok: boolean;
  /** What the device answered, or why it refused. */
  message: string;
}

export interface AirService {
  /** The advertised name, e.g. PROV_3C71BF. */
  name: string;
  handle(request: Record<string, string>): AirReply | Promise<AirReply>;
}

export class VirtualAir {
  private readonly services = new Map<string, AirService>();
  private readonly waiters = new Set<() => void>();

  /** Starts advertising; the returned function stops it (a reset, the app ending its service). */
  advertise(service: AirService): () => void {
    this.services.set(service.name, service);
    for (const wake of [...this.waiters]) wake();
    return () => {
      if (this.services.get(service.name) === service) this.services.delete(service.name);
    };
  }

  /** The names advertised now that start with `prefix`, sorted. */
  scan(prefix: string): string[] {
    return [...this.services.keys()].filter((n) => n.startsWith(prefix)).sort();
  }

  /**
   * Scans for up to `timeoutMs` for a service whose name starts with `prefix` and sends it `request`.
   * Undefined when none appeared: nothing in range.
   */
  async request(prefix: string, request: Record<string, string>, timeoutMs: number): Promise<{ service: string; reply: AirReply } | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const name = this.scan(prefix)[0];
      const service = name === undefined ? undefined : this.services.get(name);
      if (service) return { service: service.name, reply: await service.handle(request) };
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }
}

/** The air every virtual device in this process shares. */
export const benchAir = new VirtualAir();
