/** Dashboard strings: the Overview's resources section (CPU, tokens/s); English, then French with the same keys. */
export const en = {
  "resources.title": "Resources",
  "resources.intro": "CPU use of this pool and of each connected worker (percent of its machine's cores, from its heartbeats), and each worker's tokens per second. For Prometheus and Grafana, see GET /metrics (docs/monitoring.md).",
  "resources.poolCpu": "Pool CPU",
  "resources.poolCpuDetail": "this pool's process",
  "resources.tokensAll": "Tokens/s",
  "resources.tokensAllDetail": "all {n} connected workers",
  "resources.worker": "Worker",
  "resources.class": "Hardware class",
  "resources.cpu": "CPU",
  "resources.tokens": "Tokens/s",
  "resources.slots": "Slots busy",
  "resources.notReported": "not reported",
  "resources.none": "No worker connected.",
  "resources.cpuLabel": "{name}: CPU {value} %",
} as const;

export const fr: Record<keyof typeof en, string> = {
  "resources.title": "Ressources",
  "resources.intro": "Utilisation CPU de ce pool et de chaque worker connecté (pourcentage des cœurs de sa machine, d'après ses battements de cœur), et jetons par seconde de chaque worker. Pour Prometheus et Grafana, voir GET /metrics (docs/monitoring.md).",
  "resources.poolCpu": "CPU du pool",
  "resources.poolCpuDetail": "le processus de ce pool",
  "resources.tokensAll": "Jetons/s",
  "resources.tokensAllDetail": "les {n} workers connectés",
  "resources.worker": "Worker",
  "resources.class": "Classe de matériel",
  "resources.cpu": "CPU",
  "resources.tokens": "Jetons/s",
  "resources.slots": "Slots occupés",
  "resources.notReported": "non communiqué",
  "resources.none": "Aucun worker connecté.",
  "resources.cpuLabel": "{name} : CPU {value} %",
};
