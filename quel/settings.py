"""All configuration, read once from the environment (and `.env`) into one typed object.

Every `quel` command builds `Settings` before it connects to anything, so a bad value
fails fast with the variable's name. Secrets are `SecretStr`: they print as `**********`.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.bounds import JobBounds
from domain.priority import JobPriorities


class StorageBackend(StrEnum):
    LOCAL = "local"
    """Embedded default: objects in a folder on this machine. Not for production."""
    SUPABASE = "supabase"
    """Supabase Storage over its REST API (production)."""


class GeneratorBackend(StrEnum):
    GEMINI = "gemini"
    OFFLINE = "offline"
    """Local, deterministic placeholder pictures; labelled as such. No key needed."""


class ApiAuth(StrEnum):
    """How the HTTP API authenticates callers (DECISIONS D11). No default: `quel api` refuses to guess."""

    TOKEN = "token"
    """One service bearer token, `API_TOKEN`: the front end's server calls the API."""
    SUPABASE_JWT = "supabase-jwt"
    """The user's Supabase access token: browsers call the API, each caller only reaches their own jobs."""
    NONE = "none"
    """The Go server's behaviour: anyone who can reach the port. Private networks only."""


MIB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False)

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = Field("production-jobs", min_length=1)
    temporal_image_task_queue: str = Field("gemini-images", min_length=1)
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool | None = None
    temporal_tls_client_cert_path: Path | None = None
    temporal_tls_client_key_path: Path | None = None
    temporal_tls_server_ca_cert_path: Path | None = None
    temporal_tls_server_name: str | None = None

    image_concurrency: int = Field(2, ge=1, le=64)
    job_image_window: int = Field(JobBounds.image_window, ge=1, le=200)
    """Images of one job scheduled at once (D15)."""
    database_step_budget_seconds: float = Field(JobBounds.database_budget.total_seconds(), gt=0)
    image_budget_seconds: float = Field(JobBounds.image_budget.total_seconds(), gt=0)

    database_url: SecretStr | None = None
    """None means `quel dev` starts an embedded PostgreSQL; production commands require it."""
    redis_url: SecretStr | None = None
    redis_queue: str = Field("jobs:queue", min_length=1)

    storage_backend: StorageBackend = StorageBackend.LOCAL
    storage_dir: Path = Path(".quel/storage")
    storage_bucket: str = Field("attachments", min_length=1)
    supabase_url: str | None = None
    supabase_service_key: SecretStr | None = None

    gemini_api_key: SecretStr | None = None
    gemini_model: str = Field("gemini-2.5-flash-image", min_length=1)
    gemini_base_url: str | None = None
    gemini_timeout_seconds: float = Field(120.0, gt=0)
    gemini_max_calls_per_second: float | None = Field(None, gt=0)
    """The Gemini project's quota (D13): the image task queue's rate limit, kept by the Temporal
    server for every worker together. None: no limit beyond IMAGE_CONCURRENCY per worker."""
    offline_latency_seconds: float = Field(0.0, ge=0)
    """Offline generator only: pretend each picture takes this long (demos, benchmarks)."""
    image_generator: GeneratorBackend | None = None
    """Unset: `gemini` when GEMINI_API_KEY is set, else `offline`."""

    priority_interactive: int = Field(1, ge=1, le=5)
    """Temporal priority key of modify / in-paint jobs (D13): 1 is served first, 5 last."""
    priority_batch: int = Field(3, ge=1, le=5)
    """Temporal priority key of generation jobs."""

    image_per_price: int = Field(20, ge=0)
    metrics_port: int | None = Field(None, ge=1, le=65535)
    data_dir: Path = Path(".quel")
    """Where `quel dev` keeps the dev server's database, embedded PostgreSQL and Redis."""
    bridge_concurrency: int = Field(8, ge=1, le=256)
    """Workflow starts the bridge keeps in flight."""
    bridge_id: str | None = None
    """Names this bridge's processing list; default: host name and process id."""
    log_format: str = Field("auto", pattern="^(auto|json|console)$")

    api_host: str = Field("127.0.0.1", min_length=1)
    api_port: int = Field(8080, ge=1, le=65535)
    """The Go server's port, so the front end only changes its base URL's host."""
    api_auth: ApiAuth | None = None
    api_token: SecretStr | None = None
    supabase_jwt_secret: SecretStr | None = None
    """The project's legacy HS256 JWT secret; asymmetric tokens are checked against the project's JWKS."""
    api_jwt_member_claim: str = Field("sub", min_length=1)
    api_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    """Comma-separated origins allowed to call the API from a browser."""
    api_max_body_bytes: int = Field(25 * MIB, ge=1024)
    supabase_storage_base_url: str | None = None
    """Public download prefix of the bucket; an in-paint `imageUrl` must start with it (D5)."""

    @field_validator("api_cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator(
        "supabase_url",
        "gemini_base_url",
        "temporal_tls_server_name",
        "gemini_max_calls_per_second",
        "supabase_storage_base_url",
        "api_auth",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("supabase_url", "gemini_base_url", "supabase_storage_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _backends_have_what_they_need(self) -> Settings:
        if self.image_generator is None:
            self.image_generator = GeneratorBackend.GEMINI if self.gemini_api_key else GeneratorBackend.OFFLINE
        if self.image_generator is GeneratorBackend.GEMINI and not self.gemini_api_key:
            raise ValueError("IMAGE_GENERATOR=gemini needs GEMINI_API_KEY")
        if self.storage_backend is StorageBackend.SUPABASE and not (self.supabase_url and self.supabase_service_key):
            raise ValueError("STORAGE_BACKEND=supabase needs SUPABASE_URL and SUPABASE_SERVICE_KEY")
        if self.api_auth is ApiAuth.TOKEN and not (self.api_token and self.api_token.get_secret_value().strip()):
            raise ValueError("API_AUTH=token needs API_TOKEN")
        if self.api_auth is ApiAuth.SUPABASE_JWT and not (self.supabase_jwt_secret or self.supabase_url):
            raise ValueError("API_AUTH=supabase-jwt needs SUPABASE_JWT_SECRET or SUPABASE_URL (for its JWKS)")
        return self

    @property
    def priorities(self) -> JobPriorities:
        return JobPriorities(interactive=self.priority_interactive, batch=self.priority_batch)

    @property
    def storage_base_url(self) -> str:
        """SUPABASE_STORAGE_BASE_URL, else the public prefix of STORAGE_BUCKET on SUPABASE_URL (the local
        backend, with no Supabase, keeps the same shape on localhost)."""
        if self.supabase_storage_base_url:
            return self.supabase_storage_base_url.rstrip("/") + "/"
        return f"{self.supabase_url or 'http://localhost'}/storage/v1/object/public/{self.storage_bucket}/"

    @property
    def jwks_url(self) -> str | None:
        return f"{self.supabase_url}/auth/v1/.well-known/jwks.json" if self.supabase_url else None

    @property
    def job_bounds(self) -> JobBounds:
        return JobBounds(
            image_window=self.job_image_window,
            database_budget=timedelta(seconds=self.database_step_budget_seconds),
            image_budget=timedelta(seconds=self.image_budget_seconds),
        )

    @property
    def generator(self) -> GeneratorBackend:
        assert self.image_generator is not None  # set by the validator
        return self.image_generator

    def temporal_env(self) -> dict[str, str]:
        """The TEMPORAL_* variables in the shape `temporalio.envconfig` reads them."""
        env = {"TEMPORAL_ADDRESS": self.temporal_address, "TEMPORAL_NAMESPACE": self.temporal_namespace}
        if self.temporal_api_key:
            env["TEMPORAL_API_KEY"] = self.temporal_api_key.get_secret_value()
        if self.temporal_tls is not None:
            env["TEMPORAL_TLS"] = "true" if self.temporal_tls else "false"
        optional = {
            "TEMPORAL_TLS_CLIENT_CERT_PATH": self.temporal_tls_client_cert_path,
            "TEMPORAL_TLS_CLIENT_KEY_PATH": self.temporal_tls_client_key_path,
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": self.temporal_tls_server_ca_cert_path,
            "TEMPORAL_TLS_SERVER_NAME": self.temporal_tls_server_name,
        }
        env.update({name: str(value) for name, value in optional.items() if value is not None})
        return env


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold, including passwords inside connection URLs."""
    values = []
    for value in settings.__dict__.values():
        if isinstance(value, SecretStr) and value.get_secret_value():
            secret = value.get_secret_value()
            values.append(secret)
            password = urlsplit(secret).password
            if password:
                values.append(password)
    return values


def redact(text: str, settings: Settings) -> str:
    for secret in sorted(secret_values(settings), key=len, reverse=True):
        text = text.replace(secret, "**********")
    return text


class SettingsError(Exception):
    """Invalid configuration; the message names each bad variable and never its secret value."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


def describe_validation_error(error: ValidationError) -> str:
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        variable = "_".join(str(part) for part in problem["loc"]).upper()
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{variable}: {message}" if variable else message)
    return "invalid settings:\n  " + "\n  ".join(lines)
