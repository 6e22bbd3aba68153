/** Dashboard strings: sensitivity levels and clearances (issue 21), shared by the Projects and Workers pages. */
export const en = {
  "sensitivity.level.public": "Public",
  "sensitivity.level.internal": "Internal",
  "sensitivity.level.confidential": "Confidential",
  "sensitivity.level.restricted": "Restricted",
  "sensitivity.project.label": "Sensitivity",
  "sensitivity.project.help": "Chats and document embeddings of this project run only on workers cleared for this level.",
  "sensitivity.project.saved": "Sensitivity set to {level}.",
  "sensitivity.project.sectorDefault": "Default of the sector (Confidential for healthcare and law, else Internal)",
  "sensitivity.worker.col": "Clearance",
  "sensitivity.worker.label": "Clearance of {name}",
  "sensitivity.worker.default": "Default ({level})",
  "sensitivity.worker.help": "Highest sensitivity of data this worker may process. Default: Internal for an employee desktop, Confidential for a server.",
  "sensitivity.worker.saved": "Clearance of {name}: {level}.",
} as const;

export const fr: Record<keyof typeof en, string> = {
  "sensitivity.level.public": "Public",
  "sensitivity.level.internal": "Interne",
  "sensitivity.level.confidential": "Confidentiel",
  "sensitivity.level.restricted": "Restreint",
  "sensitivity.project.label": "Sensibilité",
  "sensitivity.project.help": "Les conversations et les embeddings de documents de ce projet ne s'exécutent que sur des workers habilités à ce niveau.",
  "sensitivity.project.saved": "Sensibilité définie à {level}.",
  "sensitivity.project.sectorDefault": "Valeur par défaut du secteur (Confidentiel pour la santé et le droit, sinon Interne)",
  "sensitivity.worker.col": "Habilitation",
  "sensitivity.worker.label": "Habilitation de {name}",
  "sensitivity.worker.default": "Par défaut ({level})",
  "sensitivity.worker.help": "Sensibilité maximale des données que ce worker peut traiter. Par défaut : Interne pour un poste de travail d'employé, Confidentiel pour un serveur.",
  "sensitivity.worker.saved": "Habilitation de {name} : {level}.",
};
