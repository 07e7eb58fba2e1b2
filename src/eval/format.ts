/** Escaping and number formatting shared by the HTML reports. */
import type { Interval } from "./metrics.ts";

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function formatInterval(ci: Interval | undefined): string {
  return ci ? ` [${formatNumber(ci.low)}, ${formatNumber(ci.high)}] (bootstrap)` : "";
}

export function formatNumber(value: number, digits = 4): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  return Number(value.toFixed(digits)).toString();
}
