"""Settings: the bundled catalogue, extended by a user's YAML/TOML file, then by environment variables.

Every error names the file, the field path (`models.openai/gpt-4o.providers.openai.input`) and what
was wrong, so a bad config fails at start-up and says how to fix it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from proxy._scorer import scorer_defaults

CATALOG_PATH = Path(__file__).parent / "catalog" / "catalog.yaml"
ENV_PREFIX = "SWITCHYARD_"
# Read directly by their users, not settings paths (SWITCHYARD_API_KEYS, SWITCHYARD_ADMIN_KEYS: proxy.auth).
ENV_NOT_SETTINGS = frozenset({ENV_PREFIX + "CONFIG", ENV_PREFIX + "API_KEYS", ENV_PREFIX + "ADMIN_KEYS"})
WireFormat = Literal["openai", "anthropic", "gemini"]
SCORER_DEFAULTS = scorer_defaults()  # written once, in Rust (ScorerConfig's Default)


EMBEDDING_WIRES = ("openai", "gemini")


class ConfigError(Exception):
    """A configuration problem, already phrased for the person who wrote the file."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(Strict):
    connect_s: float = Field(5.0, gt=0)
    first_token_s: float = Field(30.0, gt=0)
    idle_s: float = Field(60.0, gt=0)
    total_s: float = Field(600.0, gt=0)


class UpstreamKeyConfig(Strict):
    """One of a provider's API keys, with the caps the provider gives it (per replica)."""

    env: str = Field(min_length=1, description="the environment variable holding the key")
    rpm: int | None = Field(None, ge=1)
    tpm: int | None = Field(None, ge=1)


class ProviderConfig(Strict):
    name: str = ""
    wire: WireFormat = "openai"
    base_url: str
    api_key_env: str | None = None
    api_keys: list[UpstreamKeyConfig] = Field(
        default_factory=list, description="several keys used in turn, each under its optional rpm/tpm caps")
    auth_header: str | None = None  # default per wire: Authorization / x-api-key / x-goog-api-key
    auth_scheme: str = "Bearer"
    headers: dict[str, str] = Field(default_factory=dict)
    timeouts: Timeouts = Field(default_factory=Timeouts)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class Capabilities(Strict):
    tools: bool = False
    vision: bool = False
    json_mode: bool = Field(False, alias="json")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ModelProviderConfig(Strict):
    id: str = Field(min_length=1)
    input: float = Field(ge=0, description="USD per 1M input tokens")
    output: float = Field(ge=0, description="USD per 1M output tokens")
    cached_input: float | None = Field(None, ge=0, description="USD per 1M prompt tokens read from cache (default: input)")
    cache_write: float | None = Field(None, ge=0, description="USD per 1M prompt tokens written to cache (default: input)")
    context_window: int | None = Field(None, gt=0)
    max_output: int | None = Field(None, gt=0)


# The router's task signals (scorer_rs/src/features.rs SIGNALS) a model can specialise in.
Specialty = Literal["code", "math", "reasoning", "extraction", "translation", "creative", "chitchat"]


class RouterSource(Strict):
    """Where `auto` gets a model's ability: the routing data, a declared proxy in it, or a public score."""

    data: str | None = Field(None, min_length=1, description="the model's name in the routing data")
    proxy: str | None = Field(None, min_length=1, description="a model in the routing data that stands in for it")
    mmlu_pro: float | None = Field(None, gt=0, lt=1, description="a public MMLU-Pro accuracy, mapped to an ability")
    source: str = Field("", description="where the public score comes from")

    @model_validator(mode="after")
    def _one_source(self) -> RouterSource:
        given = [k for k in ("data", "proxy", "mmlu_pro") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of data, proxy or mmlu_pro; got {', '.join(given) or 'none'}")
        return self


class HedgeConfig(Strict):
    """`routing.hedge` (and per model `models.<slug>.hedge`): start the next candidate as well when the
    first has produced no content after `delay` (the provider's live p95 TTFT, or a fixed ms)."""

    enabled: bool = False
    delay: Literal["p95"] | float = Field("p95", description='"p95" or milliseconds')
    max_extra: int = Field(1, ge=1, le=3, description="hedged attempts per request at most")
    budget_share: float = Field(0.05, gt=0, le=1, description="hedges per request, over a sliding window")

    @field_validator("delay")
    @classmethod
    def _positive_ms(cls, value: str | float) -> str | float:
        if not isinstance(value, str) and not 0 < value <= 3_600_000:
            raise ValueError("must be \"p95\" or a number of milliseconds in (0, 3600000]")
        return value


class ModelConfig(Strict):
    name: str = ""
    aliases: list[str] = Field(
        default_factory=list, description="other names clients send for this model (provider ids resolve without one)")
    quality: float = Field(0.5, ge=0, le=1)
    router: RouterSource | None = None
    specialty: Specialty | None = Field(
        None, description="a specialist's task: `auto` discounts its predicted quality on other prompts")
    context_window: int = Field(gt=0)
    max_output: int = Field(gt=0)
    capabilities: Capabilities = Field(default_factory=Capabilities)
    providers: dict[str, ModelProviderConfig] = Field(min_length=1)
    hedge: HedgeConfig | None = None  # this model's own hedging; None follows routing.hedge


class EmbeddingOffer(Strict):
    id: str = Field(min_length=1)
    input: float = Field(ge=0, description="USD per 1M input tokens")


class EmbeddingModelConfig(Strict):
    """An embedding model: served at /v1/embeddings only, never a chat or `auto` candidate."""

    name: str = ""
    dimensions: int = Field(gt=0, description="the vector length without a `dimensions` request")
    max_input_tokens: int = Field(gt=0, description="per input text")
    providers: dict[str, EmbeddingOffer] = Field(min_length=1)

    def as_model_config(self) -> ModelConfig:
        """The catalogue's model shape, so routes, pins and fallback work unchanged: the context window
        is the input limit and `max_output` the vector length."""
        return ModelConfig(name=self.name, context_window=self.max_input_tokens, max_output=self.dimensions,
                           providers={slug: ModelProviderConfig(id=o.id, input=o.input, output=0.0) for slug, o in self.providers.items()})


class NamedKey(Strict):
    """A gateway key with the name the request log, usage and metrics know it by."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    key: SecretStr


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    max_body_bytes: int = Field(16 * 1024 * 1024, gt=0)
    api_keys: list[NamedKey | SecretStr] = Field(default_factory=list)
    api_keys_file: str | None = None
    admin_keys: list[NamedKey | SecretStr] = Field(
        default_factory=list, description="keys that also read every key's records, usage and /metrics")
    log_level: str = "info"
    access_log: bool = True
    metrics: bool = Field(True, description="record Prometheus metrics and serve /metrics")
    metrics_listen: str | None = Field(None, description="host:port serving /metrics without auth, for scrapers")
    shutdown_grace_s: float = Field(10.0, ge=0)

    @field_validator("metrics_listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            host, sep, port = value.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError("must be host:port, for example 127.0.0.1:9464")
        return value


class StoreConfig(Strict):
    data_dir: str = "./switchyard-data"
    url: SecretStr | None = Field(None, description="postgresql://... for replicas; SQLite in data_dir when unset")
    responses: bool = Field(True, description="keep Responses API conversations a client asks to store")
    responses_ttl_days: float = Field(30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (leave it unset for SQLite in store.data_dir)")
        return value


class LogConfig(Strict):
    enabled: bool = True
    retention_days: float = Field(30.0, ge=0, description="0 keeps records forever")
    bodies: bool = Field(False, description="store messages and answers (secrets redacted, capped)")
    body_max_bytes: int = Field(32_768, gt=0)
    queue_max: int = Field(10_000, ge=1)
    batch_rows: int = Field(500, ge=1)
    batch_interval_ms: float = Field(200.0, gt=0)


class StateConfig(Strict):
    """Live state shared by replicas: rate limits, budgets, revocations and provider health."""

    redis_url: SecretStr | None = Field(None, description="redis://host:port/db; in-process state when unset")
    on_redis_down: Literal["local", "closed"] = Field(
        "local", description="local: each replica enforces limit / known replicas; closed: limited keys get a 503")
    window_s: float = Field(60.0, gt=0, le=3600, description="the RPM/TPM sliding window (60 s: per minute)")
    sync_interval_ms: float = Field(100.0, gt=0, description="heartbeat and reconnect probe interval")
    key_sync_ms: float = Field(500.0, gt=0, description="how often each replica re-reads key changes from the store")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL (leave it unset for in-process state)")
        return value


class FeedbackLearningConfig(Strict):
    """`routing.feedback`: learning each model's ability per region of prompt space from feedback and
    outcomes (bench/ROUTING.md, "Learning from feedback")."""

    enabled: bool = True
    half_life_s: float = Field(7 * 86400.0, gt=0, description="evidence this old weighs half as much")
    replay_days: float = Field(30.0, gt=0, description="how far back start-up replays the request log")
    replay_max_events: int = Field(5000, ge=1, description="newest feedback rows (and as many outcomes) replayed")
    rebuild_s: float = Field(300.0, ge=0, description="rebuild from the log this often (replicas converge); 0: never")


class RoutingConfig(Strict):
    default_factor: Literal["latency", "price", "throughput"] = "latency"
    ewma_alpha: float = Field(SCORER_DEFAULTS["ewma_alpha"], gt=0, le=1)
    failure_threshold: int = Field(SCORER_DEFAULTS["failure_threshold"], ge=1)
    cooldown_s: float = Field(SCORER_DEFAULTS["cooldown_ms"] / 1000.0, gt=0)
    max_cooldown_s: float = Field(SCORER_DEFAULTS["max_cooldown_ms"] / 1000.0, gt=0)
    max_attempts: int = Field(6, ge=1)
    router_path: str | None = Field(
        None, description="abilities fitted by `switchyard router fit`; they override the bundled ones")

    hedge: HedgeConfig = Field(default_factory=HedgeConfig)
    feedback: FeedbackLearningConfig = Field(default_factory=FeedbackLearningConfig)


class CacheConfig(Strict):
    """`cache`: the exact-match answer cache (off unless enabled here or asked for by a request)."""

    enabled: bool = False
    ttl_s: float = Field(3600.0, gt=0, le=30 * 86400)
    max_bytes: int = Field(64 * 1024 * 1024, gt=0, description="in-memory cache size cap")
    namespace: str | None = Field(None, min_length=1, description="share entries across keys under this name")
    redis_timeout_s: float = Field(0.25, gt=0, le=10, description="a Redis slower than this is a miss, not a wait")


class Settings(Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    simulate: Literal["auto", "always", "never"] = "auto"
    store: StoreConfig = Field(default_factory=StoreConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    embedding_models: dict[str, EmbeddingModelConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _aliases_unique(self) -> Settings:
        owner: dict[str, str] = {slug: slug for slug in self.models}
        for slug, model in self.models.items():
            for i, alias in enumerate(model.aliases):
                if owner.get(alias, slug) != slug:
                    raise ValueError(f"models.{slug}.aliases[{i}]: {alias!r} already names {owner[alias]}; an alias names one model")
                owner[alias] = slug
        return self

    @model_validator(mode="after")
    def _providers_exist(self) -> Settings:
        sections: list[tuple[str, Mapping[str, ModelConfig | EmbeddingModelConfig]]] = [
            ("models", self.models), ("embedding_models", self.embedding_models)]
        for section, models in sections:
            for slug, model in models.items():
                for provider in model.providers:
                    if provider not in self.providers:
                        known = ", ".join(sorted(self.providers)) or "none"
                        raise ValueError(
                            f"{section}.{slug}.providers.{provider}: no provider named {provider!r} (known: {known})"
                        )
        for slug, embedding in self.embedding_models.items():
            for provider in embedding.providers:
                if self.providers[provider].wire not in EMBEDDING_WIRES:
                    raise ValueError(f"embedding_models.{slug}.providers.{provider}: the {self.providers[provider].wire} "
                                     f"wire format has no embeddings API (use an OpenAI-format or Gemini provider)")
        return self


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `override` into `base`: nested mappings merge, anything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """SWITCHYARD_SERVER__PORT=9000 becomes {"server": {"port": 9000}}; values parse as YAML scalars."""
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_SETTINGS:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        try:
            value = yaml.safe_load(raw) if raw else raw
        except yaml.YAMLError:
            value = raw
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def format_validation_error(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid configuration ({exc.error_count()} problem(s))"]
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        lines.append(f"  {path}: {err['msg']}{shown}")
    return "\n".join(lines)


def load_settings(
    config_path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Bundled catalogue < config file < SWITCHYARD_* environment < explicit overrides."""
    environ = os.environ if environ is None else environ
    merged = read_config_file(CATALOG_PATH)
    sources = [str(CATALOG_PATH)]
    path = config_path or environ.get(ENV_PREFIX + "CONFIG")
    if path:
        merged = deep_merge(merged, read_config_file(Path(path)))
        sources.append(str(path))
    env = env_overrides(environ)
    if env:
        merged = deep_merge(merged, env)
        sources.append("environment (SWITCHYARD_*)")
    if overrides:
        merged = deep_merge(merged, overrides)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(" + ".join(sources), exc)) from None
