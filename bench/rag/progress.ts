/** Progress lines of bench:rag go to stderr so stdout keeps only the result table. */
export function progress(line: string): void {
  process.stderr.write(`[bench:rag] ${line}\n`);
}
