// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
declare module 'drhost:runbook/log@0.2.0' {
  /**
   * Read (changes nothing). Long messages are truncated by the host.
   */
  export function write(level: Level, message: string): void;
  /**
   * # Variants
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'debug' | 'info' | 'warn' | 'error';
}
