#!/usr/bin/env node
// Checks for the system programs HIL Lab uses and installs the missing ones with apt-get when it
// can (root, or passwordless sudo). Otherwise prints the exact packages to install and exits 1.
//   node scripts/sysdeps.mjs [--for lab|test] [--check]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";

/** program → Debian package, and who needs it. */
export const SYSTEM_DEPS = [
  { program: "redis-server", pkg: "redis-server", why: "queue and state store", for: ["lab", "test"] },
  { program: "adb", pkg: "adb", why: "Android boards", for: ["lab", "test"] },
  { program: "fastboot", pkg: "fastboot", why: "Android partition flashing", for: ["lab", "test"] },
  { program: "socat", pkg: "socat", why: "PTY pairs for virtual serial boards", for: ["lab", "test"] },
  { program: "udevadm", pkg: "udev", why: "SerialPort.list() reads USB identity through udevadm", for: ["lab", "test"] },
  { program: "chromium", pkg: "chromium", why: "dashboard end-to-end tests", for: ["test"] },
  { program: "aapt", pkg: "aapt", why: "builds real APKs: `hil examples artifacts` for the Android suites, and the virtual Android install tests", for: ["lab", "test"] },
  ...["rich_click:python3-rich-click", "click:python3-click", "bitstring:python3-bitstring", "yaml:python3-yaml", "intelhex:python3-intelhex", "cryptography:python3-cryptography"].map((spec) => {
    const [module, pkg] = spec.split(":");
    return {
      program: `python module ${module}`,
      pkg,
      why: "esptool's own dependencies: the tests run Espressif's esptool against the virtual boards",
      for: ["test"],
      present: () => spawnSync("/usr/bin/python3", ["-c", `import ${module}`], { stdio: "ignore" }).status === 0,
    };
  }),
  {
    program: "pyserial",
    pkg: "python3-serial",
    why: "pyserial's rfc2217:// client, a second real client for the RFC 2217 server tests",
    for: ["test"],
    present: () => spawnSync("/usr/bin/python3", ["-c", "import serial.rfc2217"], { stdio: "ignore" }).status === 0,
  },
];

function has(program) {
  const r = spawnSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" });
  if (r.status === 0) return true;
  return ["/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"].some((d) => existsSync(d + program));
}

function canSudo() {
  if (process.getuid?.() === 0) return [];
  const r = spawnSync("sudo", ["-n", "true"], { stdio: "ignore" });
  return r.status === 0 ? ["sudo", "-n"] : null;
}

export function ensureSystemDeps({ purpose = "test", checkOnly = false } = {}) {
  const present = (d) => (d.present ? d.present() : has(d.program));
  const missing = SYSTEM_DEPS.filter((d) => d.for.includes(purpose) && !present(d));
  if (missing.length === 0) return true;
  const pkgs = [...new Set(missing.map((d) => d.pkg))];
  for (const d of missing) console.log(`» missing ${d.program} (${d.why}) — Debian package ${d.pkg}`);
  const prefix = checkOnly ? null : canSudo();
  if (prefix === null || !has("apt-get")) {
    console.error(`Install them with:\n  sudo apt-get install -y ${pkgs.join(" ")}`);
    return false;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (args) => {
    const cmd = [...prefix, "apt-get", ...args];
    console.log(`» ${cmd.join(" ")}`);
    return spawnSync(cmd[0], cmd.slice(1), { stdio: "inherit", env }).status === 0;
  };
  const quiet = ["-y", "-q", "--no-install-recommends"];
  if (!apt(["install", ...quiet, ...pkgs])) {
    apt(["update", "-q"]);
    if (!apt(["install", ...quiet, ...pkgs])) {
      console.error(`apt-get could not install: ${pkgs.join(" ")}`);
      return false;
    }
  }
  const still = missing.filter((d) => !present(d));
  if (still.length > 0) {
    console.error(`still missing after apt-get: ${still.map((d) => d.program).join(", ")}`);
    return false;
  }
  return true;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const i = args.indexOf("--for");
  const purpose = i >= 0 ? args[i + 1] ?? "test" : "test";
  process.exit(ensureSystemDeps({ purpose, checkOnly: args.includes("--check") }) ? 0 : 1);
}
