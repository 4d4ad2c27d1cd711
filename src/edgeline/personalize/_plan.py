"""The compiled personalization plan: policies indexed by place, redirects, blocks, experiments.

Built once per configuration (by the ``geo`` compiler of the configuration
plane, or by hand with :class:`GeoPlan`), shared by every request, never
changed in place. Nothing here imports msgspec: the request path stays
light on Pyodide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from ..geo import GeoContext
from ._experiments import CompiledExperiment, _id_match, new_client_id
from ._fields import VARIANT_HEADER
from ._language import Negotiator
from ._nearest import NearestOrigin
from ._redirect import quote_path, quote_query, safe_location

__all__ = ["Block", "Decision", "GeoPlan", "PolicyView", "Redirect", "Visit", "NO_POLICY"]

NO_POLICY = "-"  # the region bucket of clients no policy covers
Fields = tuple[tuple[str, str], ...]
# (locale, variant, fields with the variant's own first, the same fields without it,
#  the Content-Language field or None)
Resolved = tuple[str | None, str, Fields, Fields, "tuple[str, str] | None"]
_LOCATED_MAX = 4096  # distinct (country, regionCode, continent) triples remembered per plan
# Per plan, remembered experiment outcomes: by Cookie field (only fields up to
# _VISIT_FIELD_MAX characters; no experiment targeted) and by client id (some are). A client's page, its API calls
# and its assets send the same Cookie field; a table is cleared when full.
_VISITS_MAX = 4096
_VISIT_FIELD_MAX = 1024
_ASSIGNED_MAX = 4096


def _cookie(header: str | None, name: str) -> str | None:
    """Return the value of cookie ``name`` in a Cookie field (RFC 6265 §5.4), or None."""
    # PERF: one cookie by name, without building the whole jar.
    if not header:
        return None
    at = header.find(name + "=")
    while at >= 0:
        if at == 0 or header[at - 1] in "; \t":
            end = header.find(";", at)
            value = header[at + len(name) + 1:end if end >= 0 else len(header)]
            return value.strip(" \t").strip('"')
        at = header.find(name + "=", at + 1)
    return None


def _cookies(header: str | None, plan: GeoPlan) -> tuple[str | None, str | None]:
    """Return the id and exposure cookies' values in a Cookie field, as :func:`_cookie` reads them."""
    if not header:
        return None, None
    # PERF: the common case (each name found at a cookie's start) without a call per name.
    id_needle, exposure_needle = plan.cookie_needles
    at = header.find(id_needle)
    if at < 0:
        client_id = None
    elif at == 0 or header[at - 1] in "; \t":
        end = header.find(";", at)
        client_id = header[at + len(id_needle):end if end >= 0 else None].strip(" \t").strip('"')
    else:
        client_id = _cookie(header, plan.id_cookie)
    at = header.find(exposure_needle)
    if at < 0:
        return client_id, None
    if at == 0 or header[at - 1] in "; \t":
        end = header.find(";", at)
        return client_id, header[at + len(exposure_needle):end if end >= 0 else None
                                 ].strip(" \t").strip('"')
    return client_id, _cookie(header, plan.exposure_cookie)


# What a client drew in the experiments that apply: (arms, labels, comma-joined labels,
# {policy's variant: (variant with the labels, the request's trusted fields)}).
Drawn = tuple[Mapping[str, str], tuple[str, ...], str | None, dict[str, tuple[str, Fields]]]
_NOTHING: Drawn = (MappingProxyType({}), (), None, {})
_EXTENDED_MAX = 512  # policy variants remembered per combination of arms
_DRAWN_MAX = 1024  # distinct combinations of arms remembered per plan


class Visit:
    """A client's part in the experiments for one request: its id, arms and what to log.

    ``arms`` maps experiment to arm (read-only: shared by every client that
    drew the same arms); ``labels`` are the ``experiment:arm`` labels in the
    plan's order, ``joined`` their comma-joined form (None without arms);
    ``pending`` is true when the exposure cookie (``recorded``) lacks a label.
    """

    __slots__ = ("client_id", "new_id", "recorded", "arms", "labels", "joined", "pending",
                 "extended")

    def __init__(self, client_id: str | None, new_id: bool, recorded: str | None,
                 drawn: Drawn = _NOTHING) -> None:
        self.client_id = client_id
        self.new_id = new_id
        self.recorded = recorded
        # extended: what extend() remembered (shared by the visits with these arms)
        self.arms, labels, self.joined, self.extended = drawn
        self.labels = labels
        if not labels:
            self.pending = False
        elif not recorded:
            self.pending = True
        elif recorded == self.joined:  # PERF: one experiment, recorded alone
            self.pending = False
        else:
            seen = recorded.split("|")
            self.pending = False
            for label in labels:
                if label not in seen:
                    self.pending = True
                    break

    def extend(self, variant: str, others: Fields) -> tuple[str, Fields]:
        """Return the variant with this visit's labels and the request's trusted fields.

        ``variant`` and ``others`` are a policy's (see :meth:`PolicyView.resolve`);
        the fields are ``x-edgeline-variant``, ``others`` and
        ``x-edgeline-experiments``. PERF: shared by every client that drew the
        same arms, remembered per policy variant.
        """
        found = self.extended.get(variant)
        if found is None:
            joined = self.joined
            if joined is None:
                return variant, ((VARIANT_HEADER, variant), *others)
            full = variant + "|" + joined
            found = (full, ((VARIANT_HEADER, full), *others, ("x-edgeline-experiments", joined)))
            if len(self.extended) >= _EXTENDED_MAX:
                self.extended.clear()
            self.extended[variant] = found
        return found

    def __repr__(self) -> str:
        return f"<Visit {self.client_id!r} {self.joined!r}>"


NO_VISIT = Visit(None, False, None)  # no experiment applies: no id needed


class Redirect:
    """A compiled geo redirect (exactly one of ``path_prefix`` and ``host``)."""

    __slots__ = ("path_prefix", "host", "status", "paths")

    def __init__(self, *, path_prefix: str | None = None, host: str | None = None,
                 status: int = 302, paths: Iterable[str] = ()) -> None:
        if (path_prefix is None) == (host is None):
            raise ConfigError("a geo redirect sets exactly one of path_prefix and host",
                              key="redirect")
        if status not in (302, 307):
            raise ConfigError(f"a geo redirect status is 302 or 307, not {status}", key="redirect.status")
        if path_prefix is not None:
            prefix = path_prefix.rstrip("/")
            if not prefix or safe_location(prefix, ()) != prefix:
                raise ConfigError(f"path_prefix {path_prefix!r} is not a safe absolute path",
                                  key="redirect.path_prefix")
            path_prefix = prefix
        self.path_prefix = path_prefix
        self.host = host.lower() if host else None
        self.status = status
        self.paths = tuple(paths)

    def applies(self, path: str) -> bool:
        return not self.paths or path.startswith(self.paths)

    def location(self, host: str, path: str, query: str, allowed: frozenset[str]) -> str | None:
        """Return where to send a request for ``path``, or None when it is already there.

        The client's path and query are percent-encoded into the target, and
        the result must pass ``safe_location`` (APPSEC: never an open redirect).
        """
        path = quote_path(path) or "/"
        if path[0] != "/":
            path = "/" + path
        prefix = self.path_prefix
        if prefix is not None:
            if path == prefix or path.startswith(prefix + "/"):
                return None
            # "/" + "//evil.com" style paths: collapse leading slashes so the
            # target can never start with "//", whatever the client sent.
            target = prefix + "/" + path.lstrip("/")
            target_hosts: Iterable[str] = ()
        else:
            if host.lower() == self.host:
                return None
            target = f"https://{self.host}{'/' + path.lstrip('/')}"
            target_hosts = allowed
        if query:
            target += "?" + quote_query(query)
        return safe_location(target, frozenset(target_hosts))


class Block:
    """A compiled 451 block."""

    __slots__ = ("reason", "blocked_by", "paths")

    def __init__(self, reason: str, blocked_by: str | None = None, paths: Iterable[str] = ()) -> None:
        self.reason = reason
        self.blocked_by = blocked_by
        self.paths = tuple(paths)

    def applies(self, path: str) -> bool:
        return not self.paths or path.startswith(self.paths)


class PolicyView:
    """One policy, compiled: its locale negotiation, headers, values, redirect and block."""

    __slots__ = ("name", "locale", "currency", "units", "content", "negotiator", "headers",
                 "values", "redirect", "block", "origin", "trusted", "_variants", "_outgoing",
                 "passive", "resolved")

    def __init__(
        self, name: str, *, locale: str | None = None, languages: Sequence[str] = (),
        currency: str | None = None, units: str | None = None, content: str | None = None,
        headers: Mapping[str, str] | None = None, values: Mapping[str, str] | None = None,
        redirect: Redirect | None = None, block: Block | None = None, origin: str | None = None,
    ) -> None:
        self.name = name
        self.locale = locale
        self.currency = currency
        self.units = units
        self.content = content
        self.negotiator = Negotiator(languages, locale) if languages else None
        # Validated and lower-cased now: appended to requests without further checks.
        from ..headers import Headers

        self.headers = Headers(headers or {}).multi_items()
        self.values = dict(values or {})
        self.redirect = redirect
        self.block = block
        self.origin = origin
        # The per-policy trusted fields for the origin, built once.
        self.trusted = [(f"x-edgeline-{name}", value) for name, value in
                        (("currency", currency), ("units", units), ("content-variant", content))
                        if value] + self.headers
        self._variants: dict[str | None, str] = {}
        self._outgoing: dict[str | None, tuple[str, tuple[tuple[str, str], ...]]] = {}
        # Accept-Language value -> (locale, variant, fields): see resolve().
        self.resolved: dict[str | None, Resolved] = {}
        # PERF: a policy without redirect and block never needs the request's path.
        self.passive = redirect is None and block is None

    def negotiate(self, accept_language: str | None) -> str | None:
        negotiator = self.negotiator
        if negotiator is None:
            return self.locale
        return negotiator.negotiate(accept_language)

    def variant(self, locale: str | None) -> str:
        """Return ``bucket|locale|content`` (memoized per locale)."""
        found = self._variants.get(locale)
        if found is None:
            found = self._variants[locale] = f"{self.name}|{locale or '-'}|{self.content or '-'}"
        return found

    def outgoing(self, locale: str | None) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Return the variant for ``locale`` and the trusted fields after the variant's own.

        The fields are ``x-edgeline-region``, ``-locale`` (when there is one)
        and the policy's ``trusted`` ones, in that order; memoized per locale
        (a policy negotiates among a fixed list of tags).
        """
        found = self._outgoing.get(locale)
        if found is None:
            fields = [("x-edgeline-region", self.name)]
            if locale:
                fields.append(("x-edgeline-locale", locale))
            found = self._outgoing[locale] = (self.variant(locale), (*fields, *self.trusted))
        return found

    def resolve(self, accept_language: str | None) -> Resolved:
        """Return ``(locale, variant, fields, others, language)`` for an Accept-Language; memoized.

        ``fields`` are the trusted fields for the origin, ``x-edgeline-variant``
        first; ``others`` the same without it (for a variant that experiments
        extend); ``language`` the response's Content-Language field, if any.

        PERF: the stage looks a value up in ``resolved`` first and calls this
        only on a miss; browsers send a handful of distinct values.
        """
        resolved = self.resolved
        found = resolved.get(accept_language)
        if found is None:
            locale = self.negotiate(accept_language)
            variant, others = self.outgoing(locale)
            found = (locale, variant, ((VARIANT_HEADER, variant), *others), others,
                     ("content-language", locale) if locale else None)
            if len(resolved) >= Negotiator.MEMO_SIZE:
                resolved.clear()
            resolved[accept_language] = found
        return found

    def __repr__(self) -> str:
        return f"<PolicyView {self.name}>"


class Decision:
    """What personalization decided for one request (``ctx.state["edgeline.geo"]``)."""

    __slots__ = ("policy", "locale", "arms", "variant", "client_id", "new_id", "exposure_cookie",
                 "exposed")

    def __init__(self, policy: PolicyView, locale: str | None, arms: Mapping[str, str],
                 variant: str, client_id: str | None = None, new_id: bool = False) -> None:
        self.policy = policy
        self.locale = locale
        self.arms = arms          # experiment name -> arm (read-only)
        self.variant = variant
        self.client_id = client_id
        self.new_id = new_id      # the id was made for this request: set the cookie
        self.exposure_cookie: str | None = None  # new exposure cookie value, when it changed
        self.exposed: tuple[str, ...] = ()  # "experiment:arm" exposures logged by this request

    @property
    def currency(self) -> str | None:
        return self.policy.currency

    @property
    def units(self) -> str | None:
        return self.policy.units

    @property
    def content(self) -> str | None:
        return self.policy.content

    @property
    def region(self) -> str:
        return self.policy.name

    def slot_values(self, geo: GeoContext) -> dict[str, str]:
        """Return the values for ``<!--edge:NAME-->`` placeholders (policy values win)."""
        policy = self.policy
        values: dict[str, str] = {}
        for name, value in (("locale", self.locale), ("currency", policy.currency),
                            ("units", policy.units), ("variant", policy.content),
                            ("region", policy.name if policy.name != NO_POLICY else None),
                            ("country", geo.country), ("city", geo.city)):
            if value:
                values[name] = value
        for name, arm in self.arms.items():
            values["exp." + name] = arm
        values.update(policy.values)
        return values

    def __repr__(self) -> str:
        return f"<Decision {self.variant!r}>"


class GeoPlan:
    """Policies indexed by region, country and continent, plus the settings they share."""

    __slots__ = ("policies", "default", "by_region", "by_country", "by_continent",
                 "redirect_hosts", "opt_out_cookie", "exempt_bots", "experiments", "id_cookie",
                 "exposure_cookie", "nearest", "by_continent_experiments", "_experiment_names",
                 "targeted_experiments", "located", "cookie_needles", "visits", "_assigned",
                 "opt_out_param", "_drawn", "by_raw_country", "_region_countries")

    def __init__(
        self, policies: Sequence[tuple[PolicyView, Iterable[str], Iterable[str], Iterable[str]]] = (),
        *, default: PolicyView | None = None, redirect_hosts: Iterable[str] = (),
        opt_out_cookie: str = "edgeline_geo_optout", opt_out_param: str | None = "edge_geo",
        exempt_bots: bool = True,
        experiments: Sequence[CompiledExperiment] = (), id_cookie: str = "edgeline_uid",
        exposure_cookie: str = "edgeline_exp", nearest: Mapping[str, NearestOrigin] | None = None,
    ) -> None:
        """Index ``(policy, regions, countries, continents)`` tuples; the first claim of a code wins."""
        self.policies = {p.name: p for p, *_ in policies}
        self.default = default or PolicyView(NO_POLICY)
        self.by_region: dict[str, PolicyView] = {}
        self.by_country: dict[str, PolicyView] = {}
        self.by_continent: dict[str, PolicyView] = {}
        for policy, regions, countries, continents in policies:
            for code in regions:
                self.by_region.setdefault(code.upper(), policy)
            for code in countries:
                self.by_country.setdefault(code.upper(), policy)
            for code in continents:
                self.by_continent.setdefault(code.upper(), policy)
        self.redirect_hosts = frozenset(h.lower() for h in redirect_hosts)
        for policy, *_ in policies:
            redirect = policy.redirect
            if redirect is not None and redirect.host is not None \
                    and redirect.host not in self.redirect_hosts:
                raise ConfigError(f"geo policy {policy.name!r} redirects to {redirect.host!r}, "
                                  "which is not in redirect_hosts", key="redirect.host")
        self.opt_out_cookie = opt_out_cookie
        if opt_out_param is not None and (not opt_out_param or "=" in opt_out_param
                                          or "&" in opt_out_param):
            raise ConfigError(f"opt_out_param {opt_out_param!r} is not a query parameter name",
                              key="opt_out_param")
        self.opt_out_param = opt_out_param
        self.exempt_bots = exempt_bots
        self.experiments = tuple(experiments)
        self.by_continent_experiments = any(e.continents for e in self.experiments)
        # PERF: when no experiment is targeted, every request takes part in all of them.
        self.targeted_experiments = any(e.targeted for e in self.experiments)
        self._experiment_names = frozenset(e.name for e in self.experiments)
        self.id_cookie = id_cookie
        self.exposure_cookie = exposure_cookie
        self.cookie_needles = (id_cookie + "=", exposure_cookie + "=")
        self.nearest = dict(nearest or {})
        # A cache, not state: locate()'s answers by raw (country, regionCode, continent).
        self.located: dict[tuple[Any, Any, Any], tuple[PolicyView, str | None, str | None]] = {}
        # PERF: raw cf.country -> locate()'s answer, for the countries where neither
        # regionCode nor continent can change it (no region policy for the country,
        # and a country policy or no continent policy; no experiment targets a
        # continent, so the continent is left out). Filled by locate().
        self._region_countries = frozenset(code.partition("-")[0] for code in self.by_region)
        self.by_raw_country: dict[Any, tuple[PolicyView, str | None, str | None]] = {}
        # Caches, not state: visit()'s answers by Cookie field (when no experiment
        # is targeted, the field alone decides), and arms by client id.
        self.visits: dict[str | None, Visit] = {}
        self._assigned: dict[str, tuple[str | None, ...]] = {}
        self._drawn: dict[tuple[str | None, ...], Drawn] = {}

    def policy_for(self, geo: GeoContext) -> PolicyView:
        """Return the policy for the client: region, then country, then continent, else default."""
        country = geo.country
        if country is not None and self.by_region:
            code = geo.region_code
            if code is not None:
                found = self.by_region.get(f"{country}-{code.upper()}")
                if found is not None:
                    return found
        if country is not None:
            found = self.by_country.get(country)
            if found is not None:
                return found
        if self.by_continent:
            continent = geo.continent
            if continent is not None:
                found = self.by_continent.get(continent)
                if found is not None:
                    return found
        return self.default

    def locate(self, cf: Mapping[str, Any]) -> tuple[PolicyView, str | None, str | None]:
        """Return ``(policy, country, continent)`` for a request's ``cf``, as GeoContext reads them.

        PERF: memoized on the raw ``country``/``regionCode``/``continent``
        values (a bounded table: there are a few thousand places), so a
        request does not build a GeoContext nor re-validate its codes.
        """
        key = (cf.get("country"), cf.get("regionCode"), cf.get("continent"))
        located = self.located
        try:
            return located[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value: answer without remembering
            return self._locate(cf)
        found = self._locate(cf)
        # Only plain strings (or absent fields) are remembered: 1 == True == 1.0
        # as keys, yet str() of each differs.
        if all(value is None or type(value) is str for value in key):
            if len(located) >= _LOCATED_MAX:
                located.clear()
                self.by_raw_country.clear()
            located[key] = found
            country = found[1]
            if (type(key[0]) is str and country is not None
                    and country not in self._region_countries
                    and (country in self.by_country or not self.by_continent)
                    and not self.by_continent_experiments):
                self.by_raw_country[key[0]] = (found[0], country, None)
        return found

    def _locate(self, cf: Mapping[str, Any]) -> tuple[PolicyView, str | None, str | None]:
        geo = GeoContext(cf)
        return self.policy_for(geo), geo.country, geo.continent

    def visit(self, cookie_header: str | None, country: str | None = None,
              continent: str | None = None, path: str = "") -> Visit:
        """Return the client's :class:`Visit` for a request's Cookie field, place and path.

        A missing or malformed id cookie gets a fresh random id (``new_id``).
        PERF: when no experiment is targeted the answer depends on the Cookie
        field alone, and one that carries a valid id is remembered in
        ``visits``: a returning client's later requests skip cookie parsing
        and hashing (the middleware looks there first).
        """
        experiments = self.experiments
        if not experiments:
            return NO_VISIT
        targeted = self.targeted_experiments
        if targeted and not any(not e.targeted or e.targets(country, continent, path)
                                for e in experiments):
            return NO_VISIT  # no id is needed, none is made
        client_id, recorded = _cookies(cookie_header, self)
        if client_id is None or _id_match(client_id) is None:
            client_id = new_client_id()  # randomness at call time only
            new_id = True
            assigned = self._assign(client_id)
        elif not targeted:
            new_id = False  # PERF: remembered below, by the whole Cookie field
            assigned = self._assign(client_id)
        else:
            new_id = False
            assigned = self._assigned.get(client_id)  # type: ignore[assignment]
            if assigned is None:
                assigned = self._assign(client_id)
                if len(self._assigned) >= _ASSIGNED_MAX:
                    self._assigned.clear()
                self._assigned[client_id] = assigned
        if targeted:
            assigned = tuple([
                arm if not experiment.targeted or experiment.targets(country, continent, path)
                else None for experiment, arm in zip(experiments, assigned, strict=True)])
        drawn = self._drawn.get(assigned)
        if drawn is None:
            drawn = self._draw(assigned)
        visit = Visit(client_id, new_id, recorded, drawn)
        if (not targeted and not new_id and cookie_header is not None
                and len(cookie_header) <= _VISIT_FIELD_MAX):
            visits = self.visits
            if len(visits) >= _VISITS_MAX:
                visits.clear()
            visits[cookie_header] = visit
        return visit

    def opt_out_choice(self, query: str) -> str | None:
        """Return ``"off"`` or ``"on"`` when the query carries the opt-out parameter, else None.

        The parameter is matched by name as sent; its value case-insensitively.
        Any other value, or no value, is ignored (the cookie decides as usual);
        when the parameter repeats, the last ``off``/``on`` wins.
        """
        param = self.opt_out_param
        if param is None or not query or param not in query:
            return None
        choice = None
        for part in query.split("&"):
            name, _, value = part.partition("=")
            if name == param:
                value = value.lower()
                if value == "off" or value == "on":
                    choice = value
        return choice

    def without_opt_out(self, query: str) -> str:
        """Return ``query`` without the opt-out parameter (it is not carried into a redirect)."""
        param = self.opt_out_param
        if param is None or param not in query:
            return query
        return "&".join(part for part in query.split("&") if part.partition("=")[0] != param)

    def _assign(self, client_id: str) -> tuple[str | None, ...]:
        experiments = self.experiments
        if len(experiments) == 1:
            return (experiments[0].assign(client_id),)
        return tuple([experiment.assign(client_id) for experiment in experiments])

    def _draw(self, assigned: tuple[str | None, ...]) -> Drawn:
        """Return (and remember) the arms, labels and joined labels for one arm per experiment."""
        arms: dict[str, str] = {}
        labels: list[str] = []
        for experiment, arm in zip(self.experiments, assigned, strict=True):
            if arm is not None:
                arms[experiment.name] = arm
                labels.append(experiment.labels[arm])
        drawn: Drawn = (MappingProxyType(arms), tuple(labels),
                        ",".join(labels) if labels else None, {})
        if len(self._drawn) >= _DRAWN_MAX:
            self._drawn.clear()
        self._drawn[assigned] = drawn
        return drawn

    def is_experiment(self, name: str) -> bool:
        return name in self._experiment_names

    def __len__(self) -> int:
        return len(self.policies)

    def __repr__(self) -> str:
        return (f"<GeoPlan policies={len(self.policies)} experiments={len(self.experiments)} "
                f"nearest={sorted(self.nearest)}>")

