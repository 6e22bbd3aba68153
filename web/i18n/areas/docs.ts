/** Dashboard strings: docs (English, then French with the same keys; the compiler checks both). */
export const en = {
  "docs.title": "Documentation",
  "docs.intro": "The administrator, API and security guides of this pool. The PDF export carries your company name and logo.",
  "docs.guides": "Guides",
  "docs.toc": "Contents",
  "docs.pdf": "Download PDF",
  "docs.pdfAll": "Download all guides (PDF)",
  "docs.none": "No guide is available.",
} as const;

export const fr: Record<keyof typeof en, string> = {
  "docs.title": "Documentation",
  "docs.intro": "Les guides administrateur, API et sécurité de ce pool. L'export PDF porte le nom et le logo de votre société.",
  "docs.guides": "Guides",
  "docs.toc": "Sommaire",
  "docs.pdf": "Télécharger le PDF",
  "docs.pdfAll": "Télécharger tous les guides (PDF)",
  "docs.none": "Aucun guide n'est disponible.",
};
