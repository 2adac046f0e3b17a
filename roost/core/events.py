"""Transport-neutral request data and the payloads of the named hooks (see ``roost.core.hooks``).

Every payload is an :class:`~roost.tools.hook.Event`: a handler changes its fields in place and
calls ``await e.next()`` to let Roost carry on with them. Payloads about one collection are
tagged with its id and name, so handlers bound with ``for_collections(...)`` see only those.
Every payload carries ``app``, the app that fired it.
Model-level payloads (:class:`RecordEvent`, :class:`CollectionEvent`) exist for every write,
whoever made it; request-level ones (``*RequestEvent``) only when a client asked, and carry
the caller as :class:`RequestInfo`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from roost.core.schema.api_keys import ApiKeyGrant
from roost.core.schema.collection import Collection
from roost.tools.hook import Event

Record = dict[str, Any]
#: the app that fired an event (a ``roost.core.base.App``). Events sit below the App protocol,
#: which is built from them, so they name it only in prose.
App = Any


class RequestHeaders(Mapping[str, str]):
    """A request's headers keyed as the rule language names them (``X-Token`` -> ``x_token``),
    decoded from the raw ``(name, value)`` byte pairs when first read: most requests (a guest's
    view or list, a record create) never read them, and decoding every header cost about as much
    as building the rest of the :class:`RequestInfo`. A repeated header keeps its last value."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._decoded: dict[str, str] | None = None

    def _items(self) -> dict[str, str]:
        decoded = self._decoded
        if decoded is None:
            decoded = self._decoded = {k.decode("latin-1").lower().replace("-", "_"): v.decode("latin-1") for k, v in self._raw}
        return decoded

    def __getitem__(self, key: str) -> str:
        return self._items()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._items().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._items()

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return repr(self._items())


@dataclass
class RequestInfo:
    """What core needs to know about the caller, whatever transport it came through.

    ``auth`` holds the authenticated record's stored values (``None`` for a guest) and
    ``auth_collection`` its collection. ``headers`` keys are lower-case snake_case
    (``X-Token`` -> ``x_token``) as the rule language addresses them.
    """

    auth: dict[str, Any] | None = None
    auth_collection: Collection | None = None
    method: str = "GET"
    query: dict[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    context: str = "default"
    ip: str = ""
    #: the ``_authSessions`` id when the caller authenticated with a session cookie
    session_id: str = ""
    #: the API key the caller sent: its scopes bound every record operation before the rules
    api_key: ApiKeyGrant | None = None

    @property
    def is_superuser(self) -> bool:
        return self.auth_collection is not None and self.auth_collection.name == "_superusers"

    @property
    def auth_id(self) -> str:
        return str(self.auth.get("id", "")) if self.auth else ""


class _CollectionTagged(Event):
    collection: Collection

    def hook_tags(self) -> tuple[str, ...]:
        return (self.collection.id, self.collection.name)


# ----- app lifecycle ---------------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class BootstrapEvent(Event):
    """The app opens its database and loads its caches in the final link."""

    app: App


class ServeRouter(Protocol):
    """What an ``on_serve`` handler may add to the HTTP app before it starts serving.

    Core knows no web framework: endpoints, middleware classes and mounted apps are the HTTP
    layer's (Starlette's) types, and ``openapi`` is a ``roost.apis.openapi.operation.Op``.
    """

    def add_route(
        self, path: str, endpoint: Callable[..., Any], methods: Iterable[str], *,
        openapi: Any = None, tags: Iterable[str] = (), body_limit: int | None = None, name: str | None = None,
    ) -> None: ...  # fmt: skip

    def add_websocket_route(self, path: str, endpoint: Callable[..., Any], *, openapi: Any = None, name: str | None = None) -> None: ...

    def mount(self, path: str, app: Any, *, name: str | None = None) -> None: ...

    def add_middleware(self, cls: Any, *args: Any, **kwargs: Any) -> None: ...


@dataclass(eq=False, kw_only=True)
class ServeEvent(Event):
    """``on_serve``: the app is bootstrapped and about to serve HTTP. Handlers add routes and
    middleware through ``router``; the final link builds the HTTP app."""

    app: App
    router: ServeRouter


@dataclass(eq=False, kw_only=True)
class TerminateEvent(Event):
    app: App
    is_restart: bool = False


@dataclass(eq=False, kw_only=True)
class BackupEvent(Event):
    """A backup named ``name`` is created or restored; ``exclude`` lists data-dir entries left out."""

    app: App
    name: str
    exclude: list[str] = field(default_factory=list)


# ----- settings --------------------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class SettingsListRequestEvent(Event):
    app: App
    info: RequestInfo
    #: what the caller will see (secrets already masked); handlers may change it
    settings: dict[str, Any]


@dataclass(eq=False, kw_only=True)
class SettingsUpdateRequestEvent(Event):
    app: App
    info: RequestInfo
    #: the submitted patch; handlers may change it before it is validated and stored
    patch: dict[str, Any]
    #: the public settings before the change
    old: dict[str, Any]
    #: after the final link: the public settings the caller receives
    new: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False, kw_only=True)
class SettingsReloadEvent(Event):
    """Settings were (re)loaded from the database: at bootstrap and after every update."""

    app: App


# ----- mail ------------------------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class MailerEvent(Event):
    """One mail about to be handed to the mailer; the final link sends ``message``."""

    app: App
    message: Any


@dataclass(eq=False, kw_only=True)
class MailerRecordEvent(_CollectionTagged):
    """A mail about one auth record (verification, password reset, e-mail change, OTP, alert)."""

    app: App
    collection: Collection
    record: Record
    message: Any
    meta: dict[str, Any] = field(default_factory=dict)


# ----- records, model level --------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class RecordEvent(_CollectionTagged):
    """A record write, whoever made it (a client, an auth flow, a cascade, the CLI).

    Before the final link ``record`` may be changed; the write uses what the chain leaves there.
    """

    app: App
    collection: Collection
    record: Record
    #: ``create``, ``update``, ``delete`` or ``validate``
    action: str
    #: the stored values before an update (None on create)
    original: Record | None = None
    #: the request behind the write; None for internal writes and cascades
    info: RequestInfo | None = None


@dataclass(eq=False, kw_only=True)
class RecordErrorEvent(RecordEvent):
    """A record write that failed, or whose transaction rolled back."""

    error: BaseException


# ----- records, request level ------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class RecordRequestEvent(_CollectionTagged):
    """A client's request about one record (view, create, update, delete, and the auth flows).

    ``record`` is the record the request works on; for a create or update it already holds the
    submitted values when the handlers run, and the rule checks run after them.
    """

    app: App
    info: RequestInfo
    collection: Collection
    record: Record | None = None


@dataclass(eq=False, kw_only=True)
class RecordsListRequestEvent(_CollectionTagged):
    """A list request; ``page`` (a ``roost.core.records.queries.Page``) is filled before the handlers run."""

    app: App
    info: RequestInfo
    collection: Collection
    page: Any


@dataclass(eq=False, kw_only=True)
class RecordEnrichEvent(_CollectionTagged):
    """One record about to be returned to ``info`` (REST, batch, realtime, auth responses).

    ``data`` is the exported JSON (hidden fields already removed); handlers may add computed
    keys or remove keys. It fires once per record, expanded records included.
    """

    app: App
    info: RequestInfo
    collection: Collection
    record: Record
    data: dict[str, Any]


@dataclass(eq=False, kw_only=True)
class BatchRequestEvent(Event):
    app: App
    info: RequestInfo
    #: the parsed inner requests (method, url, body ...)
    requests: list[Any]


# ----- auth flows ------------------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class RecordAuthRequestEvent(RecordRequestEvent):
    """Every successful authentication, just before the answer: MFA and login alerts run in the final link."""

    token: str = ""
    #: ``password``, ``oauth2``, ``otp``, ``passkey``; empty for refreshes and impersonation
    auth_method: str = ""
    meta: dict[str, Any] | None = None


@dataclass(eq=False, kw_only=True)
class RecordAuthWithPasswordRequestEvent(RecordRequestEvent):
    """``record`` is the one the identity names (None when none does); the final link checks the password."""

    identity: str = ""
    identity_field: str = ""
    password: str = ""


@dataclass(eq=False, kw_only=True)
class RecordAuthWithOAuth2RequestEvent(RecordRequestEvent):
    provider_name: str = ""
    #: what the provider said about the user
    oauth2_user: dict[str, Any] = field(default_factory=dict)
    #: the values a new record would be created with
    create_data: dict[str, Any] = field(default_factory=dict)
    is_new_record: bool = False


@dataclass(eq=False, kw_only=True)
class RecordAuthRefreshRequestEvent(RecordRequestEvent):
    pass


@dataclass(eq=False, kw_only=True)
class RecordCreateOTPRequestEvent(RecordRequestEvent):
    password: str = ""


@dataclass(eq=False, kw_only=True)
class RecordAuthWithOTPRequestEvent(RecordRequestEvent):
    otp: Record | None = None


@dataclass(eq=False, kw_only=True)
class RecordEmailRequestEvent(RecordRequestEvent):
    """Password reset, verification and e-mail change requests and confirmations."""

    new_email: str = ""


# ----- collections -----------------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class CollectionEvent(_CollectionTagged):
    """A collection write (create, update, delete), whoever made it."""

    app: App
    collection: Collection
    action: str
    original: Collection | None = None


@dataclass(eq=False, kw_only=True)
class CollectionErrorEvent(CollectionEvent):
    error: BaseException


@dataclass(eq=False, kw_only=True)
class CollectionRequestEvent(Event):
    """A superuser's request about one collection; ``collection`` is None before a create.

    ``data`` is the submitted definition for a create or update.
    """

    app: App
    info: RequestInfo
    collection: Collection | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False, kw_only=True)
class CollectionsListRequestEvent(Event):
    app: App
    info: RequestInfo
    page: Any


@dataclass(eq=False, kw_only=True)
class CollectionsImportRequestEvent(Event):
    app: App
    info: RequestInfo
    collections_data: Any
    delete_missing: bool = False


# ----- realtime --------------------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class RealtimeConnectRequestEvent(Event):
    """A realtime stream opens; the final link registers ``client`` and sends ``PB_CONNECT``."""

    app: App
    info: RequestInfo
    #: a ``roost.core.realtime.hub.Client``
    client: Any


@dataclass(eq=False, kw_only=True)
class RealtimeSubscribeRequestEvent(Event):
    app: App
    info: RequestInfo
    client: Any
    #: the topics asked for; handlers may change the list
    subscriptions: list[str]


@dataclass(eq=False, kw_only=True)
class RealtimeMessageEvent(Event):
    """One message about to be queued for one client; the final link queues it."""

    app: App
    client: Any
    name: str
    data: bytes


# ----- files -----------------------------------------------------------------------------------
@dataclass(eq=False, kw_only=True)
class FileTokenRequestEvent(Event):
    app: App
    info: RequestInfo
    token: str = ""


@dataclass(eq=False, kw_only=True)
class FileDownloadRequestEvent(_CollectionTagged):
    app: App
    info: RequestInfo
    collection: Collection
    record: Record
    field_name: str
    served_name: str
