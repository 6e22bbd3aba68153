/**
 * What a GGUF file's header says, read with node-llama-cpp's `readGgufFileInfo` — imported
 * dynamically so that the pool never loads llama binaries (the parser is plain JavaScript and needs
 * no Llama instance). A file that does not parse, or whose tensor data ends beyond the file's end
 * (a truncated copy), is refused with 400 `invalid_model_file`.
 */
import { stat } from "node:fs/promises";
import type { GgufSummary, ModelRole } from "../../protocol/models.protocol.js";
import { AppError } from "../../shared/errors.js";

export interface GgufReport extends GgufSummary {
  /** An encoder (BERT-like) or a model with a pooling type: what the default role is derived from. */
  embeddingOnly: boolean;
}

/** ggml tensor types: [elements per block, bytes per block] (ggml.c's type traits). */
const TYPE_BLOCKS: Record<number, readonly [number, number]> = {
  0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 9: [32, 36],
  10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 15: [256, 292],
  16: [256, 66], 17: [256, 74], 18: [256, 98], 19: [256, 50], 20: [32, 18], 21: [256, 110], 22: [256, 82],
  23: [256, 136], 24: [1, 1], 25: [1, 2], 26: [1, 4], 27: [1, 8], 28: [1, 8], 29: [256, 56], 30: [1, 2],
  34: [256, 54], 35: [256, 66], 39: [32, 17],
};

/** Architectures that only embed (llama.cpp's encoders). */
const ENCODER_ARCHITECTURES = new Set(["bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "jina-bert-v3", "t5encoder", "modern-bert", "neo-bert", "roberta", "xlm-roberta"]);

const invalid = (message: string) => new AppError("invalid_model_file", message, { param: "file" });

interface TensorLike {
  name: string;
  dimensions: readonly (number | bigint)[];
  ggmlType: number;
  fileOffset: number | bigint;
}

/** Reads a GGUF file's header and checks that its tensor data is all there. */
export async function readGgufReport(path: string): Promise<GgufReport> {
  const { readGgufFileInfo, GgufFileType, GgmlType } = await import("node-llama-cpp");
  const size = (await stat(path)).size;
  let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
  try {
    info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false });
  } catch (err) {
    throw invalid(`Not a GGUF model file (its header could not be read: ${(err as Error).message.slice(0, 200)}).`);
  }
  const tensors = (info.fullTensorInfo ?? info.tensorInfo ?? []) as readonly TensorLike[];
  if (tensors.length === 0) throw invalid("The GGUF file holds no tensors: it is not a model.");
  let parameters = 0;
  const elementsByType = new Map<number, number>();
  for (const t of tensors) {
    const elements = t.dimensions.reduce<number>((a, d) => a * Number(d), 1);
    parameters += elements;
    elementsByType.set(t.ggmlType, (elementsByType.get(t.ggmlType) ?? 0) + elements);
    const block = TYPE_BLOCKS[t.ggmlType];
    // A type this table does not know: its start must at least lie inside the file.
    const bytes = block ? Math.ceil(elements / block[0]) * block[1] : 1;
    const end = Number(t.fileOffset) + bytes;
    if (end > size) throw invalid(`The GGUF file is truncated: tensor ${t.name} ends at byte ${end}, the file has ${size} bytes. Upload the whole file again.`);
  }

  const md = info.metadata as unknown as Record<string, Record<string, unknown> | undefined>;
  const general = md.general ?? {};
  const architecture = typeof general.architecture === "string" ? general.architecture : null;
  const arch = (architecture ? md[architecture] : undefined) ?? {};
  const fileType = typeof general.file_type === "number" ? (GgufFileType as Record<number, string>)[general.file_type] : undefined;
  // No file_type in the header (older converters): the type holding most of the weights.
  const dominant = [...elementsByType.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const quantisation = fileType ? fileType.replace(/^(MOSTLY|ALL)_/, "") : dominant !== undefined ? ((GgmlType as Record<number, string>)[dominant] ?? null) : null;
  const tokenizer = md.tokenizer as { chat_template?: unknown } | undefined;
  const chatTemplate = typeof tokenizer?.chat_template === "string" && tokenizer.chat_template.length > 0;
  const declared = typeof general.parameter_count === "number" || typeof general.parameter_count === "bigint" ? Number(general.parameter_count) : null;
  const pooling = arch.pooling_type !== undefined && arch.pooling_type !== null;
  return {
    architecture,
    parameter_count: declared ?? parameters,
    quantisation,
    context_length: intOrNull(arch.context_length),
    embedding_length: intOrNull(arch.embedding_length),
    chat_template: chatTemplate,
    embeddingOnly: !chatTemplate && ((architecture !== null && ENCODER_ARCHITECTURES.has(architecture)) || pooling),
  };
}

/** The role a model gets when the uploader names none: `embedding` for an embedding-only GGUF, else `fast`. */
export function defaultRole(report: Pick<GgufReport, "embeddingOnly">): ModelRole {
  return report.embeddingOnly ? "embedding" : "fast";
}

function intOrNull(v: unknown): number | null {
  const n = typeof v === "bigint" ? Number(v) : v;
  return typeof n === "number" && Number.isInteger(n) ? n : null;
}
