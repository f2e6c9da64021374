"""The names of the built-in offering types, importable without loading their processors."""

BASIC = "Marketplace.Basic"
SLURM = "Marketplace.Slurm"
WEBHOOK = "Marketplace.Webhook"
