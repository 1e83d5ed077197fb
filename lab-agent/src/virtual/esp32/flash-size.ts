/** `4MB`, `4M`, `512KB`, `16MiB`, `4194304` → bytes. Null when it is not a size or not a power of two ≥ 4 KiB. */
export function parseFlashSize(text: string): number | null {
  const m = /^(\d+)\s*(k|kb|kib|m|mb|mib)?$/i.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? "").toLowerCase();
  const bytes = unit.startsWith("k") ? n * 1024 : unit.startsWith("m") ? n * 1024 * 1024 : n;
  if (bytes < 4096 || (bytes & (bytes - 1)) !== 0 || bytes > 256 * 1024 * 1024) return null;
  return bytes;
}
