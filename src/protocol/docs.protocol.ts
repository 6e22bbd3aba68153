/** The dashboard's Documentation page: the three guides, rendered on the pool, and their PDF export. */
import { z } from "zod";

export const DOC_IDS = ["admin", "api", "security"] as const;
export const DocId = z.enum(DOC_IDS);
export type DocId = z.infer<typeof DocId>;
/** A guide id, or `all` for the three in one PDF. */
export const DocPdfId = z.enum([...DOC_IDS, "all"]);
export type DocPdfId = z.infer<typeof DocPdfId>;

export const DocSummary = z.object({ id: DocId, title: z.string() });
export type DocSummary = z.infer<typeof DocSummary>;
export const DocList = z.object({ data: z.array(DocSummary) });
export type DocList = z.infer<typeof DocList>;
export const DocBody = z.object({
  id: DocId,
  title: z.string(),
  markdown: z.string(),
  html: z.string().describe("rendered on the pool from the guide's Markdown; raw HTML in the source is escaped"),
});
export type DocBody = z.infer<typeof DocBody>;
