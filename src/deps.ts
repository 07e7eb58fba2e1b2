/**
 * Every third-party module gennas uses, pinned to the versions of deno.lock. Sources import them
 * from here, never by a bare name: full `npm:` specifiers need no import map, so mod.ts can be
 * imported by path or URL from a script that has no config of its own.
 */
export { default as cliProgress } from "npm:cli-progress@3.12.0";
export { Command, CommanderError, InvalidArgumentError, Option } from "npm:commander@15.1.0";
export { parse as csvParseSync } from "npm:csv-parse@7.0.3/sync";
export {
  decode as decodePng,
  type DecodedPng,
  encode as encodePng,
  type ImageData,
} from "npm:fast-png@8.0.0";
export { z } from "npm:zod@4.6.7";
