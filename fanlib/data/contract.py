"""The fan data contract: the tables every fanlib module reads.

This module is the single source of truth for table and column names, types,
units and constraints. Validation (``fanlib.data.validate``), the loaders
(``fanlib.data.fandata``), the demo generator and the README's contract section are all
derived from it.

Conventions
-----------
* Timestamps are naive, in one declared time zone: ``timezone`` (an IANA name),
  China Standard Time (Asia/Shanghai, UTC+8) unless said otherwise. Values
  with a zone or offset are converted to it.
* Money is in the report's ``currency`` (CNY unless said otherwise), as a finite float; the column keeps
  its contract name ``amount_cny``. Integer columns hold whole numbers.
* Numbers given as text use ``.`` as the decimal mark and ``,`` for thousands
  (``1,234.50``) unless the mapping declares ``decimal: ","`` (``1.234,56``).
* Identifiers are strings, even when a source stores them as integers.
* Categorical codes are lower-case English; Chinese display names live in the
  report layer. A source's own channels and event types are translated onto them, or declared new, by
  the mapping's ``vocabulary`` (``fanlib.data.vocabulary``).
* A source needs ``fans``, ``orders`` or ``events`` (at least one). Without ``fans``, the fans are derived
  from the orders and events: every fan id there is a fan, joining at the first order or event
  (``fanlib.data.derived``), which also fills a missing ``fans.join_time``.
* ``orders`` may hold order lines (``quantity``, ``unit_price``): several rows per ``order_id``.
  Cancellations and returns (a negative quantity or amount, or a ``status`` other than paid) are left out
  of every order count and amount (``fanlib.data.orders``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The time zone in which every naive timestamp of the contract is expressed, unless ``timezone`` says otherwise.
TIMEZONE = "Asia/Shanghai"

CHANNELS = ("wechat", "weibo", "douyin", "xiaohongshu", "qq", "live", "other")
GENDERS = ("female", "male", "unknown")
EVENT_TYPES = (
    "view",
    "like",
    "comment",
    "share",
    "checkin",
    "live_watch",
    "message",
    "ugc_post",
    "click",
    "visit",
)
#: The five content and social interactions: what profiling's "interactions" KPI counts per fan.
INTERACTION_TYPES = ("like", "comment", "share", "message", "ugc_post")
#: The interactions plus a check-in: what churn and the demo call an interactive (engaged) event.
ENGAGED_TYPES = (*INTERACTION_TYPES, "checkin")
#: The planning documents' five content types.
CONTENT_TYPES = ("product", "educational", "interactive", "emotional", "entertainment")
ORDER_SOURCES = ("community", "private_domain", "public_domain")
#: An order line's status: only paid lines (or lines without a status) count as orders.
ORDER_STATUSES = ("paid", "cancelled", "refunded")
#: A source must give at least one of these tables; without ``fans``, the fans are derived from the others.
FAN_SOURCES = ("fans", "orders", "events")
SENTIMENT_LABELS = ("negative", "neutral", "positive")
#: 1 = first tier (一线), 2 = new first tier (新一线), 3 = second tier (二线),
#: 4 = third tier (三线), 5 = fourth tier (四线), 6 = fifth tier and below (五线及以下).
CITY_TIERS = (1, 2, 3, 4, 5, 6)


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    dtype: str  # one of: string, int, float, timestamp
    description: str
    required: bool = True  # must the column be present?
    nullable: bool = False  # may values be missing?
    unit: str | None = None
    allowed: tuple | None = None  # allowed values, for categorical codes
    min_value: float | None = None
    max_value: float | None = None
    not_in_future: bool = False  # timestamps must not lie after "now"


@dataclass(frozen=True)
class ForeignKey:
    column: str
    table: str
    ref_column: str


@dataclass(frozen=True)
class Table:
    """One contract table: its columns, primary key and references."""

    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    required: bool = True  # must a data source provide this table?
    time_column: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no contract column {name!r}")


FANS = Table(
    name="fans",
    description="One row per fan (community member or follower). When the source has no fans table, it is "
    "derived from orders and events: every buyer is a fan, joining at the first order (or event); its other "
    "columns are then empty.",
    primary_key=("fan_id",),
    time_column="join_time",
    required=False,
    columns=(
        Column("fan_id", "string", "Fan identifier, unique."),
        Column(
            "join_time",
            "timestamp",
            "When the fan joined or first followed; where missing, the fan's first order or event.",
            required=False,
            nullable=True,
            not_in_future=True,
        ),
        Column("gender", "string", "Gender.", required=False, nullable=True, allowed=GENDERS),
        Column(
            "birth_year",
            "int",
            "Year of birth (give this or age).",
            required=False,
            nullable=True,
            min_value=1900,
            max_value=2030,
        ),
        Column(
            "age",
            "int",
            "Age in years (give this or birth_year).",
            required=False,
            nullable=True,
            unit="years",
            min_value=0,
            max_value=120,
        ),
        Column("province", "string", "Province, as its short Chinese name (e.g. 广东).", required=False, nullable=True),
        Column("city", "string", "City, in Chinese (e.g. 深圳).", required=False, nullable=True),
        Column(
            "city_tier",
            "int",
            "City tier: 1 一线, 2 新一线, 3 二线, 4 三线, 5 四线, 6 五线及以下.",
            required=False,
            nullable=True,
            allowed=CITY_TIERS,
        ),
        Column(
            "occupation", "string", "Occupation (e.g. white_collar, student, homemaker).", required=False, nullable=True
        ),
        Column(
            "channel",
            "string",
            "Acquisition channel (a source's own names through the vocabulary).",
            required=False,
            nullable=True,
            allowed=CHANNELS,
        ),
        Column("community_id", "string", "The community or group the fan belongs to.", required=False, nullable=True),
    ),
)

EVENTS = Table(
    name="events",
    description="One row per fan action: views, likes, comments, shares, check-ins, live watching, "
    "messages, UGC posts, clicks and visits.",
    primary_key=(),
    time_column="event_time",
    foreign_keys=(ForeignKey("fan_id", "fans", "fan_id"),),
    required=False,
    columns=(
        Column("fan_id", "string", "The acting fan."),
        Column("event_time", "timestamp", "When it happened.", not_in_future=True),
        Column(
            "event_type",
            "string",
            "What the fan did (a source's own names through the vocabulary).",
            allowed=EVENT_TYPES,
        ),
        Column("community_id", "string", "The community where it happened.", required=False, nullable=True),
        Column("content_id", "string", "The content item acted on.", required=False, nullable=True),
        Column(
            "content_type",
            "string",
            "The content's type (the planning documents' five).",
            required=False,
            nullable=True,
            allowed=CONTENT_TYPES,
        ),
    ),
)

ORDERS = Table(
    name="orders",
    description="One row per order, or one row per order line when `quantity` or `unit_price` is given "
    "(several rows with one `order_id`; the order is their sum, at its first line's time). A line with a "
    "negative quantity or amount is a cancellation or return, and a row whose `status` is not `paid` is "
    "cancelled or refunded: both are left out of every order count and amount. Without lines, a negative "
    "amount is refused unless the row's status says cancelled or refunded.",
    primary_key=("order_id",),
    time_column="order_time",
    foreign_keys=(ForeignKey("fan_id", "fans", "fan_id"),),
    required=False,
    columns=(
        Column("order_id", "string", "Order identifier, unique (shared by the lines of one order)."),
        Column("fan_id", "string", "The buying fan."),
        Column("order_time", "timestamp", "When the order was paid.", not_in_future=True),
        Column(
            "amount_cny",
            "float",
            "Amount paid, in the report's currency; may be left out when quantity and unit_price are given "
            "(amount = quantity × unit_price).",
            required=False,
            nullable=True,
            unit="currency",
            min_value=0,
        ),
        Column("quantity", "int", "Units on the order line; negative for a return.", required=False, nullable=True),
        Column(
            "unit_price",
            "float",
            "Price per unit, in the report's currency.",
            required=False,
            nullable=True,
            unit="currency",
        ),
        Column(
            "status",
            "string",
            "paid, cancelled or refunded; rows without a status count as paid.",
            required=False,
            nullable=True,
            allowed=ORDER_STATUSES,
        ),
        Column("campaign_id", "string", "The campaign the order is attributed to.", required=False, nullable=True),
        Column("source", "string", "Where the order came from.", required=False, nullable=True, allowed=ORDER_SOURCES),
    ),
)

COMMENTS = Table(
    name="comments",
    description="One row per comment, post reply or review written by a fan.",
    primary_key=("comment_id",),
    time_column="comment_time",
    foreign_keys=(ForeignKey("fan_id", "fans", "fan_id"),),
    required=False,
    columns=(
        Column("comment_id", "string", "Comment identifier, unique."),
        Column("fan_id", "string", "The writing fan."),
        Column("comment_time", "timestamp", "When it was written.", not_in_future=True),
        Column("channel", "string", "Platform or channel it was written on.", allowed=CHANNELS),
        Column("text", "string", "The comment text, as written.", nullable=True),
        Column("community_id", "string", "The community where it was written.", required=False, nullable=True),
        Column("content_id", "string", "The content item it replies to.", required=False, nullable=True),
        Column(
            "label",
            "string",
            "A human sentiment label, where one exists.",
            required=False,
            nullable=True,
            allowed=SENTIMENT_LABELS,
        ),
    ),
)

ASSIGNMENTS = Table(
    name="assignments",
    description="One row per fan and experiment: the variant the fan was assigned to.",
    primary_key=("experiment_id", "fan_id"),
    time_column="assigned_time",
    foreign_keys=(ForeignKey("fan_id", "fans", "fan_id"),),
    required=False,
    columns=(
        Column("experiment_id", "string", "Experiment identifier."),
        Column("fan_id", "string", "The assigned fan."),
        Column("variant", "string", "The variant (e.g. control, treatment)."),
        Column("assigned_time", "timestamp", "When the fan was assigned.", not_in_future=True),
    ),
)

FAN_ATTRIBUTES = Table(
    name="fan_attributes",
    description=(
        "Any fan-level columns of your own (CRM fields, survey answers, model scores), one row per fan, or one row "
        "per fan and `as_of` time when they change: the reports use the latest row at or before their as-of date. "
        "Every column other than `fan_id` and `as_of` can be named in a report's covariate or segment parameters, "
        "like an extra column of `fans`."
    ),
    primary_key=("fan_id", "as_of"),
    time_column="as_of",
    foreign_keys=(ForeignKey("fan_id", "fans", "fan_id"),),
    required=False,
    columns=(
        Column("fan_id", "string", "The fan the attributes describe."),
        Column(
            "as_of",
            "timestamp",
            "When the values became true (omit the column when they do not change).",
            required=False,
            nullable=True,
        ),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (FANS, EVENTS, ORDERS, COMMENTS, ASSIGNMENTS, FAN_ATTRIBUTES)}
TABLE_NAMES = tuple(TABLES)


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a contract table; the tables are {', '.join(TABLES)}") from None


def check_timezone(name: object) -> str:
    """``name`` if it is an IANA time zone name (``Asia/Shanghai``, ``UTC``); ValueError saying so if not."""
    import difflib
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    if isinstance(name, str) and name.strip():
        try:
            ZoneInfo(name.strip())
            return name.strip()
        except (ZoneInfoNotFoundError, ValueError):
            pass
    close = difflib.get_close_matches(str(name), sorted(available_timezones()), n=1, cutoff=0.6)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"timezone {name!r} is not an IANA time zone name such as {TIMEZONE!r}, 'UTC' or 'Europe/Berlin'{hint}"
    )


def markdown() -> str:
    """The contract as Markdown tables, for the README and the overview report."""
    lines = [
        f"Timestamps are naive, in one time zone: {TIMEZONE} unless the `timezone` parameter names another.",
        "Values with a zone or offset (`…Z`, `+08:00`, TIMESTAMPTZ columns) are converted to it.",
        "Money is in the report's `currency` (CNY unless the `currency` parameter names another), in the",
        "column `amount_cny` whatever the currency. Identifiers are strings. Integer columns hold whole",
        "numbers; amounts are finite.",
        "Numbers given as text use `.` as the decimal mark and `,` for thousands (`1,234.50`), unless the",
        'mapping declares `decimal: ","` (`1.234,56`).',
        "A source's own channel and event type names are translated onto the codes below, or declared as new",
        'codes, by the mapping\'s `vocabulary` (see "Bring your own data").',
        "A source needs at least one of `fans`, `orders` and `events`. Without `fans`, every fan id of `orders`",
        "and `events` is a fan, joining at the first order or event; the other fan columns are empty.",
        "",
    ]
    for t in TABLES.values():
        need = "required" if t.required else "optional"
        if t.name in FAN_SOURCES:
            need = "optional table; a source needs at least one of fans, orders and events"
        else:
            need += " table"
        pk = ", ".join(t.primary_key) if t.primary_key else "none"
        lines += [f"### `{t.name}` ({need})", "", t.description, "", f"Primary key: {pk}.", ""]
        for fk in t.foreign_keys:
            lines += [f"`{fk.column}` must exist in `{fk.table}.{fk.ref_column}`.", ""]
        lines += [
            "| column | type | required | nulls | unit | constraint | description |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in t.columns:
            cons = []
            if c.allowed:
                cons.append("one of " + ", ".join(map(str, c.allowed)))
            if c.min_value is not None:
                cons.append(f">= {c.min_value:g}")
            if c.max_value is not None:
                cons.append(f"<= {c.max_value:g}")
            if c.not_in_future:
                cons.append("not in the future")
            lines.append(
                f"| `{c.name}` | {c.dtype} | {'yes' if c.required else 'no'} | {'yes' if c.nullable else 'no'} "
                f"| {c.unit or ''} | {'; '.join(cons)} | {c.description} |"
            )
        lines.append("")
    return "\n".join(lines)
