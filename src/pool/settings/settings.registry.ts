/**
 * Every runtime-tunable option of the pool: its rule (type, bounds, unit), its boot default (the
 * pool's configuration where the option comes from env/config, else built in), text for an IT
 * business owner in English and French, and a recommendation per profile. Each key is wired to the
 * code that uses it (settings.composition.ts) and applied at once when an admin changes it.
 */
import { z } from "zod";
import { poolFields, type PoolConfig } from "../../config/pool.config.js";
import type { Localized, ProfileId, SettingKey, SettingsValues, SettingType, SettingValue } from "../../protocol/settings.protocol.js";
import { LOCK_MS, LOCK_THRESHOLD, SESSION_IDLE_MS } from "../admin-users/admin-users.service.js";
import { RETRY_AFTER_SECONDS } from "../hub/dispatcher.js";
import { ModelName } from "../../protocol/models.protocol.js";
import { ROUTING_DEFAULTS } from "../models/routing/smart-router.service.js";
import { EMBED_BATCH, EMBED_IN_FLIGHT } from "../rag/embedding-pump.js";
import { INGEST_CONCURRENCY } from "../rag/ingest.queue.js";
import { RETRIEVE_K } from "../rag/rag-chat.service.js";
import { QUERY_EMBED_TIMEOUT_MS } from "../rag/search.service.js";

export const CATEGORIES = [
  { id: "capacity", label: { en: "Capacity & queues", fr: "Capacité et files d'attente" } },
  { id: "documents", label: { en: "Documents & search", fr: "Documents et recherche" } },
  { id: "security", label: { en: "Security & sign-in", fr: "Sécurité et connexion" } },
  { id: "cluster", label: { en: "Cluster (bonded pools)", fr: "Grappe (pools liés)" } },
  { id: "models", label: { en: "Models & smart routing", fr: "Modèles et routage intelligent" } },
] as const satisfies readonly { id: string; label: Localized }[];
export type CategoryId = (typeof CATEGORIES)[number]["id"];

export const PROFILES: readonly { id: ProfileId; label: Localized }[] = [
  { id: "smb", label: { en: "SMB firm (one site, 5–50 staff)", fr: "Cabinet PME (un site, 5 à 50 personnes)" } },
  { id: "corporate", label: { en: "Corporate (several sites, hundreds of staff)", fr: "Grande entreprise (plusieurs sites, des centaines de personnes)" } },
];

type Config = Pick<PoolConfig, "queueSize" | "jobTimeoutMs" | "maxJobAttempts"> & Partial<Pick<PoolConfig, "forwardingEnabled">>;

export interface SettingDef<K extends SettingKey = SettingKey> {
  key: K;
  category: CategoryId;
  type: SettingType;
  min?: number;
  max?: number;
  options?: readonly string[];
  /** A `text` setting's format beyond its length (`max`): a model name, or empty. */
  format?: "model_name";
  /** Language-neutral symbol ("s", "min"), or null for a plain count (the label says what is counted). */
  unit: string | null;
  label: Localized;
  description: Localized;
  recommended: Record<ProfileId, SettingsValues[K]>;
  /** The boot default: from the pool's configuration when `configField` is set, else built in. */
  defaultValue(config: Config): SettingsValues[K];
  /** The PoolConfig field this option starts from (its env variable makes the source "env"). */
  configField?: keyof Config & keyof typeof poolFields;
}

const seconds = (ms: number) => Math.max(1, Math.round(ms / 1000));

const DEFINITIONS = [
  // --- Capacity & queues -----------------------------------------------------------------------
  {
    key: "queue.size_per_model",
    category: "capacity",
    type: "integer",
    min: 0,
    max: 100_000,
    unit: null,
    configField: "queueSize",
    defaultValue: (c) => c.queueSize,
    label: { en: "Waiting requests allowed per model", fr: "Demandes en attente autorisées par modèle" },
    description: {
      en: "How many requests may wait for a free worker when every worker is busy. Beyond this, users get a \"busy, retry shortly\" answer at once instead of waiting. The declared headcount (Worker balancing) can raise this number, never lower it.",
      fr: "Nombre de demandes qui peuvent attendre un poste libre quand tous les postes de calcul sont occupés. Au-delà, l'utilisateur reçoit aussitôt « occupé, réessayez » au lieu d'attendre. L'effectif déclaré (Équilibrage des postes) peut relever ce nombre, jamais l'abaisser.",
    },
    recommended: { smb: 64, corporate: 256 },
  },
  {
    key: "queue.per_employee",
    category: "capacity",
    type: "number",
    min: 0,
    max: 10,
    unit: null,
    defaultValue: () => 0.5,
    label: { en: "Waiting requests per employee", fr: "Demandes en attente par employé" },
    description: {
      en: "Sizes the waiting line from your declared headcount: total staff × this number. The larger of this and the fixed limit above is used. 0 turns headcount-based sizing off.",
      fr: "Dimensionne la file d'attente d'après l'effectif déclaré : effectif total × ce nombre. La plus grande valeur entre celle-ci et la limite fixe ci-dessus s'applique. 0 désactive ce calcul.",
    },
    recommended: { smb: 1, corporate: 0.5 },
  },
  {
    key: "jobs.timeout_seconds",
    category: "capacity",
    type: "integer",
    min: 1,
    max: 3600,
    unit: "s",
    configField: "jobTimeoutMs",
    defaultValue: (c) => seconds(c.jobTimeoutMs),
    label: { en: "Longest time for one answer", fr: "Durée maximale d'une réponse" },
    description: {
      en: "How long a request may take, waiting time included, before it is stopped and the user is told it took too long. Raise it when long documents are summarised on modest computers.",
      fr: "Durée maximale d'une demande, attente comprise, avant qu'elle soit arrêtée et que l'utilisateur soit prévenu. Augmentez-la si de longs documents sont résumés sur des ordinateurs modestes.",
    },
    recommended: { smb: 300, corporate: 180 },
  },
  {
    key: "jobs.max_attempts",
    category: "capacity",
    type: "integer",
    min: 1,
    max: 10,
    unit: null,
    configField: "maxJobAttempts",
    defaultValue: (c) => c.maxJobAttempts,
    label: { en: "Workers tried before giving up", fr: "Postes essayés avant abandon" },
    description: {
      en: "When the computer handling a request fails or is switched off, the request moves to another one and carries on. This is how many computers are tried before the user gets an error.",
      fr: "Quand l'ordinateur qui traite une demande tombe en panne ou est éteint, la demande passe à un autre et continue. C'est le nombre d'ordinateurs essayés avant que l'utilisateur reçoive une erreur.",
    },
    recommended: { smb: 2, corporate: 3 },
  },
  {
    key: "jobs.retry_after_seconds",
    category: "capacity",
    type: "integer",
    min: 1,
    max: 300,
    unit: "s",
    defaultValue: () => RETRY_AFTER_SECONDS,
    label: { en: "Suggested wait when no worker is on", fr: "Délai conseillé quand aucun poste n'est allumé" },
    description: {
      en: "When no computer able to answer is connected, applications are told to try again after this many seconds.",
      fr: "Quand aucun ordinateur capable de répondre n'est connecté, les applications sont invitées à réessayer après ce nombre de secondes.",
    },
    recommended: { smb: 10, corporate: 5 },
  },
  // --- Documents & search ----------------------------------------------------------------------
  {
    key: "documents.parallel_extractions",
    category: "documents",
    type: "integer",
    min: 1,
    max: 16,
    unit: null,
    defaultValue: () => INGEST_CONCURRENCY,
    label: { en: "Documents read at the same time", fr: "Documents lus en même temps" },
    description: {
      en: "How many uploaded documents the server opens and reads at once. More makes large imports faster but uses more of the server's memory and processor.",
      fr: "Nombre de documents déposés que le serveur ouvre et lit en même temps. Plus rend les gros imports plus rapides mais consomme plus de mémoire et de processeur sur le serveur.",
    },
    recommended: { smb: 2, corporate: 4 },
  },
  {
    key: "documents.embedding_batch_size",
    category: "documents",
    type: "integer",
    min: 1,
    max: 256,
    unit: null,
    defaultValue: () => EMBED_BATCH,
    label: { en: "Passages indexed per batch", fr: "Passages indexés par lot" },
    description: {
      en: "Documents are cut into passages that workers index in batches. Larger batches index faster on powerful computers; smaller ones show progress more often and lose less work if a computer is switched off.",
      fr: "Les documents sont découpés en passages que les postes indexent par lots. Des lots plus grands vont plus vite sur des ordinateurs puissants ; des lots plus petits montrent l'avancement plus souvent et perdent moins de travail si un ordinateur est éteint.",
    },
    recommended: { smb: 16, corporate: 32 },
  },
  {
    key: "documents.embedding_batches_in_flight",
    category: "documents",
    type: "integer",
    min: 1,
    max: 16,
    unit: null,
    defaultValue: () => EMBED_IN_FLIGHT,
    label: { en: "Indexing batches sent at once", fr: "Lots d'indexation envoyés en même temps" },
    description: {
      en: "How many batches of passages are handed to workers at the same time. More speeds up indexing when many workers are on, but leaves less room for people's questions meanwhile.",
      fr: "Nombre de lots de passages confiés aux postes en même temps. Plus accélère l'indexation quand beaucoup de postes sont allumés, mais laisse moins de place aux questions des utilisateurs pendant ce temps.",
    },
    recommended: { smb: 2, corporate: 4 },
  },
  {
    key: "search.chat_sources",
    category: "documents",
    type: "integer",
    min: 1,
    max: 20,
    unit: null,
    defaultValue: () => RETRIEVE_K,
    label: { en: "Document passages used per question", fr: "Passages de documents utilisés par question" },
    description: {
      en: "When someone asks a question about a project, the assistant reads this many of the most relevant passages from its documents before answering. More gives fuller answers with more sources, but slower ones.",
      fr: "Quand quelqu'un pose une question sur un projet, l'assistant lit ce nombre de passages parmi les plus pertinents de ses documents avant de répondre. Plus donne des réponses plus complètes et mieux sourcées, mais plus lentes.",
    },
    recommended: { smb: 6, corporate: 8 },
  },
  {
    key: "search.query_wait_seconds",
    category: "documents",
    type: "integer",
    min: 1,
    max: 120,
    unit: "s",
    defaultValue: () => QUERY_EMBED_TIMEOUT_MS / 1000,
    label: { en: "Wait for meaning-based search", fr: "Attente de la recherche par le sens" },
    description: {
      en: "A search looks for words and for meaning. Finding by meaning needs a worker; if none answers within this time, results by words alone are returned so nobody waits too long.",
      fr: "Une recherche porte sur les mots et sur le sens. La recherche par le sens a besoin d'un poste ; si aucun ne répond dans ce délai, les résultats par mots seuls sont renvoyés pour que personne n'attende trop.",
    },
    recommended: { smb: 10, corporate: 5 },
  },
  // --- Security & sign-in ----------------------------------------------------------------------
  {
    key: "security.session_idle_minutes",
    category: "security",
    type: "integer",
    min: 5,
    max: 10_080,
    unit: "min",
    defaultValue: () => SESSION_IDLE_MS / 60_000,
    label: { en: "Sign out administrators after inactivity", fr: "Déconnecter les administrateurs après inactivité" },
    description: {
      en: "An administrator who does nothing in the dashboard for this long is signed out and must sign in again. Shorter is safer on shared or unattended computers.",
      fr: "Un administrateur inactif dans le tableau de bord pendant cette durée est déconnecté et doit se reconnecter. Plus court est plus sûr sur des ordinateurs partagés ou laissés sans surveillance.",
    },
    recommended: { smb: 720, corporate: 60 },
  },
  {
    key: "security.lockout_failures",
    category: "security",
    type: "integer",
    min: 3,
    max: 100,
    unit: null,
    defaultValue: () => LOCK_THRESHOLD,
    label: { en: "Wrong passwords before lock-out", fr: "Mots de passe erronés avant blocage" },
    description: {
      en: "After this many wrong passwords for one account, or from one network address, sign-in is blocked for a while. Lower stops password guessing sooner but locks out clumsy typists more often.",
      fr: "Après ce nombre de mots de passe erronés pour un compte, ou depuis une même adresse réseau, la connexion est bloquée un moment. Plus bas arrête plus tôt les tentatives de devinette, mais bloque plus souvent les fautes de frappe.",
    },
    recommended: { smb: 10, corporate: 5 },
  },
  {
    key: "security.lockout_minutes",
    category: "security",
    type: "integer",
    min: 1,
    max: 1440,
    unit: "min",
    defaultValue: () => LOCK_MS / 60_000,
    label: { en: "Lock-out duration", fr: "Durée du blocage" },
    description: {
      en: "How long sign-in stays blocked after too many wrong passwords. An administrator can still reset the password on the server itself.",
      fr: "Durée pendant laquelle la connexion reste bloquée après trop de mots de passe erronés. Un administrateur peut toujours réinitialiser le mot de passe sur le serveur lui-même.",
    },
    recommended: { smb: 15, corporate: 30 },
  },
  // --- Cluster (bonded pools) ------------------------------------------------------------------
  {
    key: "cluster.forwarding_enabled",
    category: "cluster",
    type: "boolean",
    unit: null,
    configField: "forwardingEnabled",
    defaultValue: (c) => c.forwardingEnabled ?? true,
    label: { en: "Share computers with bonded pools", fr: "Partager les ordinateurs avec les pools liés" },
    description: {
      en: "When no computer connected here can answer a request, send it to a trusted bonded pool that can, and answer the requests such pools send here. Off: each pool answers only with its own computers.",
      fr: "Quand aucun ordinateur connecté ici ne peut répondre à une demande, l'envoyer à un pool lié de confiance qui le peut, et répondre aux demandes que ces pools envoient ici. Désactivé : chaque pool ne répond qu'avec ses propres ordinateurs.",
    },
    recommended: { smb: true, corporate: true },
  },
  {
    key: "cluster.forward_queue_threshold",
    category: "cluster",
    type: "integer",
    min: 0,
    max: 100_000,
    unit: null,
    defaultValue: () => 0,
    label: { en: "Waiting requests before using another pool", fr: "Demandes en attente avant de recourir à un autre pool" },
    description: {
      en: "When every computer here that runs a model is busy, requests for it wait here until this many are waiting; beyond, new ones go to a bonded pool that has a free computer. 0 sends them there as soon as everything here is busy.",
      fr: "Quand tous les ordinateurs d'ici qui font tourner un modèle sont occupés, les demandes attendent ici jusqu'à ce nombre ; au-delà, les nouvelles partent vers un pool lié qui a un ordinateur libre. 0 les y envoie dès que tout est occupé ici.",
    },
    recommended: { smb: 0, corporate: 4 },
  },
  // --- Models & smart routing ------------------------------------------------------------------
  {
    key: "routing.enabled",
    category: "models",
    type: "boolean",
    unit: null,
    defaultValue: () => ROUTING_DEFAULTS.enabled,
    label: { en: "Smart routing (model \"auto\")", fr: "Routage intelligent (modèle « auto »)" },
    description: {
      en: "Applications may ask for the model \"auto\": each question then goes to the model suited to it (quick questions, analysis and reasoning, or programming), chosen from the question itself. Needs the smart_routing feature of the license.",
      fr: "Les applications peuvent demander le modèle « auto » : chaque question va alors au modèle qui lui convient (questions rapides, analyse et raisonnement, ou programmation), choisi d'après la question elle-même. Nécessite la fonction smart_routing de la licence.",
    },
    recommended: { smb: true, corporate: true },
  },
  {
    key: "routing.model_fast",
    category: "models",
    type: "text",
    max: 100,
    format: "model_name",
    unit: null,
    defaultValue: () => ROUTING_DEFAULTS.models.fast,
    label: { en: "Model for quick questions", fr: "Modèle des questions rapides" },
    description: {
      en: "Model that answers small talk, short facts, rewriting and translation when an application asks for the model \"auto\". Empty: the model the Models page gives the role \"fast\"; if none is connected, any connected chat model.",
      fr: "Modèle qui répond aux échanges courants, questions factuelles, reformulations et traductions quand une application demande le modèle « auto ». Vide : le modèle auquel la page Modèles donne le rôle « fast » ; s'il n'est pas connecté, n'importe quel modèle de discussion connecté.",
    },
    recommended: { smb: "", corporate: "" },
  },
  {
    key: "routing.model_reasoning",
    category: "models",
    type: "text",
    max: 100,
    format: "model_name",
    unit: null,
    defaultValue: () => ROUTING_DEFAULTS.models.reasoning,
    label: { en: "Model for analysis and reasoning", fr: "Modèle de l'analyse et du raisonnement" },
    description: {
      en: "Model that answers multi-step analysis, calculations, planning, legal or medical reasoning for the model \"auto\". Empty: the model the Models page gives the role \"reasoning\"; if none is connected, any connected chat model.",
      fr: "Modèle qui répond aux analyses en plusieurs étapes, calculs, plannings, raisonnements juridiques ou médicaux pour le modèle « auto ». Vide : le modèle auquel la page Modèles donne le rôle « reasoning » ; s'il n'est pas connecté, n'importe quel modèle de discussion connecté.",
    },
    recommended: { smb: "", corporate: "" },
  },
  {
    key: "routing.model_code",
    category: "models",
    type: "text",
    max: 100,
    format: "model_name",
    unit: null,
    defaultValue: () => ROUTING_DEFAULTS.models.code,
    label: { en: "Model for programming", fr: "Modèle de la programmation" },
    description: {
      en: "Model that answers programming, debugging, SQL, regular expressions and shell questions for the model \"auto\". Empty: the model the Models page gives the role \"code\"; if none is connected, any connected chat model.",
      fr: "Modèle qui répond aux questions de programmation, de débogage, de SQL, d'expressions régulières et de shell pour le modèle « auto ». Vide : le modèle auquel la page Modèles donne le rôle « code » ; s'il n'est pas connecté, n'importe quel modèle de discussion connecté.",
    },
    recommended: { smb: "", corporate: "" },
  },
  {
    key: "routing.default_tier",
    category: "models",
    type: "enum",
    options: ["fast", "reasoning", "code"],
    unit: null,
    defaultValue: () => ROUTING_DEFAULTS.defaultTier,
    label: { en: "Tier when the choice is unclear", fr: "Catégorie quand le choix est incertain" },
    description: {
      en: "Where a question goes when smart routing cannot tell clearly what it is (see the two thresholds below): fast = quick questions, reasoning = analysis, code = programming.",
      fr: "Où va une question quand le routage intelligent ne sait pas clairement de quoi il s'agit (voir les deux seuils ci-dessous) : fast = questions rapides, reasoning = analyse, code = programmation.",
    },
    recommended: { smb: "fast", corporate: "fast" },
  },
  {
    key: "routing.min_score",
    category: "models",
    type: "number",
    min: 0,
    max: 1,
    unit: null,
    defaultValue: () => ROUTING_DEFAULTS.minScore,
    label: { en: "Smart routing: minimum confidence", fr: "Routage intelligent : confiance minimale" },
    description: {
      en: "How closely a question must resemble the examples of a category before it is sent there (0 to 1; applies while an embedding worker is connected, which is what measures the resemblance); below it, the category chosen above applies. Higher sends more questions to that default category.",
      fr: "À quel point une question doit ressembler aux exemples d'une catégorie pour y être envoyée (de 0 à 1 ; s'applique quand un poste d'embeddings est connecté, c'est lui qui mesure la ressemblance) ; en dessous, la catégorie choisie ci-dessus s'applique. Plus haut envoie davantage de questions vers cette catégorie par défaut.",
    },
    recommended: { smb: 0.1, corporate: 0.1 },
  },
  {
    key: "routing.min_margin",
    category: "models",
    type: "number",
    min: 0,
    max: 1,
    unit: null,
    defaultValue: () => ROUTING_DEFAULTS.minMargin,
    label: { en: "Smart routing: minimum lead", fr: "Routage intelligent : avance minimale" },
    description: {
      en: "How far ahead the best category must be of the second one (0 to 1; applies while an embedding worker is connected); a closer call goes to the default category. 0 always follows the best guess.",
      fr: "L'avance que la meilleure catégorie doit avoir sur la deuxième (de 0 à 1 ; s'applique quand un poste d'embeddings est connecté) ; un choix plus serré va à la catégorie par défaut. 0 suit toujours la meilleure estimation.",
    },
    recommended: { smb: 0.02, corporate: 0.05 },
  },
  {
    key: "chat.system_prompt",
    category: "models",
    type: "text",
    max: 4000,
    unit: null,
    defaultValue: () => "",
    label: { en: "Instructions given to every conversation", fr: "Consignes données à chaque conversation" },
    description: {
      en: "Text placed before every conversation as the assistant's standing instructions (for example: answer in the user's language, directly, without showing your reasoning). An application's own instructions come after it. Empty: none.",
      fr: "Texte placé avant chaque conversation comme consignes permanentes de l'assistant (par exemple : réponds dans la langue de l'utilisateur, directement, sans montrer ton raisonnement). Les consignes propres d'une application viennent après. Vide : aucune.",
    },
    recommended: { smb: "", corporate: "" },
  },
] satisfies readonly SettingDef[];

/** Compiles only while every key of SettingsValues has its definition above. */
const _everyKeyDefined: Exclude<SettingKey, (typeof DEFINITIONS)[number]["key"]> extends never ? true : false = true;

export const SETTINGS: readonly SettingDef[] = DEFINITIONS;

const BY_KEY = new Map<string, SettingDef>(SETTINGS.map((s) => [s.key, s]));

export function settingDef(key: string): SettingDef | undefined {
  return BY_KEY.get(key);
}

/** Human rule of a setting, for error messages ("an integer from 1 to 10"). */
export function ruleOf(def: SettingDef): string {
  const range = def.min !== undefined && def.max !== undefined ? ` from ${def.min} to ${def.max}` : "";
  switch (def.type) {
    case "integer":
      return `a whole number${range}`;
    case "number":
      return `a number${range}`;
    case "boolean":
      return "true or false";
    case "enum":
      return `one of ${(def.options ?? []).join(", ")}`;
    case "text":
      return def.format === "model_name" ? `a model name (letters, digits, . _ : -; at most ${def.max ?? 100} characters) or empty` : `a text of at most ${def.max ?? 1000} characters`;
  }
}

/** The zod schema that a value of this setting must satisfy. */
export function schemaOf(def: SettingDef): z.ZodType<SettingValue> {
  switch (def.type) {
    case "integer":
    case "number": {
      let n = z.number().refine(Number.isFinite);
      if (def.type === "integer") n = n.refine(Number.isInteger);
      if (def.min !== undefined) n = n.refine((v) => v >= def.min!);
      if (def.max !== undefined) n = n.refine((v) => v <= def.max!);
      return n;
    }
    case "boolean":
      return z.boolean();
    case "enum":
      return z.enum(def.options as [string, ...string[]]);
    case "text": {
      const text = z.string().max(def.max ?? 1000);
      return def.format === "model_name" ? z.union([z.literal(""), ModelName.max(def.max ?? 100)]) : text;
    }
  }
}
