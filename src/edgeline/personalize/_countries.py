"""ISO 3166-1 alpha-2 country codes, for checking configuration (not the request path).

A request's ``cf.country`` is never checked against this list: an unknown
code there simply matches no policy. A configuration naming a code that is
not assigned (``"UK"`` for ``"GB"``, a typo) is refused when it loads,
because such a policy could never apply.
"""

from __future__ import annotations

__all__ = ["COUNTRIES", "SPECIAL", "known_country"]

COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
VN VU WF WS YE YT ZA ZM ZW
""".split())

# Codes Cloudflare sends besides ISO's: Kosovo (user-assigned XK), unknown (XX), Tor (T1).
SPECIAL = frozenset({"XK", "XX", "T1"})


def known_country(code: str) -> bool:
    """Tell whether ``code`` is a country code a request's ``cf.country`` can carry."""
    return code in COUNTRIES or code in SPECIAL
