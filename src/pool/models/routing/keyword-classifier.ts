/**
 * The routing classifier used when no embedding worker is connected (or its centroids are not ready):
 * words and signs typical of each tier, in English and French. Text is lower-cased and stripped of
 * accents first, so one list serves both languages. A word ending in `*` matches as a prefix.
 * Written from what each tier means (code = programming, debugging, SQL, regexes, shell; reasoning =
 * multi-step analysis, maths, planning, legal and medical reasoning; fast = small talk, short facts,
 * rewriting, translation); the benchmark's held-out prompts were never used to tune it.
 */
import type { ChatTier } from "../../../protocol/models.protocol.js";
import type { TierScore } from "./centroid-classifier.js";

const WORDS: Record<ChatTier, string[]> = {
  code: [
    "code", "coder", "python", "javascript", "typescript", "java", "kotlin", "rust", "golang", "c++", "c#", "php", "ruby", "swift", "scala", "vba", "macro",
    "sql", "postgres*", "mysql", "sqlite", "query", "requete sql", "select", "join", "index", "trigger", "schema", "database", "base de donnees", "table",
    "regex*", "expression reguliere", "bash", "shell", "powershell", "zsh", "cron", "script*", "command line", "ligne de commande", "terminal", "one-liner",
    "function", "fonction", "method*", "methode", "class", "classe", "interface", "variable*", "array", "list comprehension", "loop", "boucle", "async", "await", "callback", "promise",
    "bug*", "debug*", "debogu*", "stack trace", "traceback", "exception", "segfault", "segmentation fault", "compile*", "compil*", "syntax*", "typeerror", "undefined", "null", "nullpointerexception",
    "git", "commit*", "merge", "rebase", "docker*", "container", "conteneur", "kubernetes", "k8s", "pod", "nginx", "apache", "api", "rest", "endpoint", "json", "yaml", "csv", "xml", "http",
    "npm", "node", "node.js", "react", "vue", "angular", "django", "flask", "express", "spring", "maven", "gradle", "pandas", "numpy", "pytest", "jest", "junit", "unit test*", "test unitaire", "tests unitaires",
    "refactor*", "implement*", "implemente", "algorithm*", "algorithme", "linked list", "binary search", "recursion", "dockerfile", "env", "port", "process*", "localhost", "cors", "jwt", "oauth",
  ],
  reasoning: [
    "analy*", "analyse*", "explain why", "step by step", "etape par etape", "show the steps", "show your work", "detaille*", "justif*", "reason*", "raisonn*",
    "prove", "proof", "demontre*", "demonstration", "derive", "theorem", "theoreme", "recurrence", "induction",
    "probabilit*", "chance*", "expected value", "esperance", "equation*", "solve", "resous", "resoudre", "calculate", "calcule*", "compute", "estimate", "estime*", "assumption*", "hypothes*",
    "compare*", "pros and cons", "avantages et inconvenients", "pour et le contre", "weigh", "pese", "trade-off*", "evaluate", "evalue*", "assess*", "should we", "faut-il", "vaut-il mieux", "which option",
    "plan", "planifie*", "planning", "strategy", "strategie", "roadmap", "milestone*", "risk*", "risque*", "consequence*", "root cause*", "causes", "scenario*", "decision",
    "legal*", "juridique*", "law", "loi", "droit", "contract", "contrat", "clause", "court", "tribunal", "proces", "liability", "responsabilite", "gdpr", "rgpd", "breach", "litige", "dispute", "licenciement", "bail", "lease", "enforceable",
    "patient", "symptom*", "symptome*", "diagnos*", "treatment", "traitement", "clinical", "clinique", "prescri*", "interaction*", "dose",
    "loan", "emprunt", "credit", "interest", "interet*", "mortgage", "budget", "cost*", "cout*", "profitab*", "rentab*", "margin*", "marge*", "payback", "investment", "investir", "invest",
    "interpret*", "why does", "why might", "pourquoi une", "what could explain", "implications",
  ],
  fast: [
    "hello", "hi", "hey", "good morning", "good evening", "bonjour", "bonsoir", "salut", "coucou", "thanks", "thank you", "merci", "how are you", "ca va", "nice to meet",
    "translate", "traduis", "traduire", "traduction", "how do you say", "comment dit-on", "in english", "en anglais", "in french", "en espagnol", "in spanish", "in german", "en italien",
    "rephrase", "reformule*", "rewrite", "reecris", "rends ce", "make this", "shorten", "shorter", "raccourcis", "polite*", "poli", "formal", "formel", "friendlier", "chaleureux",
    "spelling", "orthographe", "grammar", "grammaire", "synonym*", "synonyme", "antonym*", "antonyme", "plural", "pluriel", "feminin", "abbreviation", "abreviation", "stand for", "signifie", "what does",
    "capital", "capitale", "who wrote", "who painted", "qui a", "which planet", "which ocean", "quel est le plus", "what's the", "quelle est la", "how many", "combien de",
    "joke", "blague", "birthday", "anniversaire", "welcome", "bienvenue", "out-of-office", "absence", "greeting*", "message", "title", "titre", "objet", "subject line", "bullet list", "liste a puces", "one sentence", "une phrase", "convert", "convertis",
  ],
};

/** A tier's signs that words miss: code punctuation and code-shaped tokens. */
const CODE_SIGNS = /```|`[^`]+`|=>|\(\)|[{};]\s*$|\b\w+\(\w*\)|\b\w+\.\w+\(|\b(?:[a-z]+_[a-z_]+|[a-z]+[A-Z]\w+)\b|[<>]=?\s*\d|\$\w+|--\w+|\/\w+\/\w+|\w+\.(?:py|js|ts|java|sql|sh|json|yml|yaml|csv|tsx|go|rs|cpp)\b/m;

function normalise(text: string): string {
  return text.toLowerCase().normalize("NFD").replace(/\p{Diacritic}/gu, "");
}

function escape(word: string): string {
  return word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** One regex per tier: each word at a word boundary (letters and digits), `*` a prefix. */
const PATTERNS = Object.fromEntries(
  (Object.keys(WORDS) as ChatTier[]).map((tier) => {
    const alternatives = WORDS[tier].map((w) => (w.endsWith("*") ? `${escape(w.slice(0, -1))}[\\p{L}\\p{N}]*` : escape(w)));
    return [tier, new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join("|")})(?![\\p{L}\\p{N}])`, "gu")];
  }),
) as Record<ChatTier, RegExp>;

/**
 * Counts each tier's words in `text` (the raw text for code signs, which count double). The score is
 * the winner's share of all hits (0 with none: the caller falls back to its default tier), the margin
 * its lead over the runner-up as a share of all hits. Ties go to the tier listed first: code, then
 * reasoning, then fast (the costlier mistake is sending code or analysis to a small model).
 */
export function classifyByKeywords(text: string): TierScore {
  const plain = normalise(text);
  const hits: Record<ChatTier, number> = { code: 0, reasoning: 0, fast: 0 };
  for (const tier of Object.keys(PATTERNS) as ChatTier[]) hits[tier] = plain.match(PATTERNS[tier])?.length ?? 0;
  if (CODE_SIGNS.test(text)) hits.code += 2;
  // A long question is seldom small talk: a nudge towards reasoning, not a vote.
  if (plain.length > 240) hits.reasoning += 0.5;
  const total = hits.code + hits.reasoning + hits.fast;
  const ranked = (Object.keys(hits) as ChatTier[]).map((tier) => ({ tier, n: hits[tier] })).sort((a, b) => b.n - a.n);
  const [first, second] = ranked as [{ tier: ChatTier; n: number }, { tier: ChatTier; n: number }];
  if (total === 0) return { tier: first.tier, score: 0, margin: 0 };
  return { tier: first.tier, score: first.n / total, margin: (first.n - second.n) / total };
}
