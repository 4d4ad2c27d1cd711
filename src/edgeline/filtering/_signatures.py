"""The managed signatures: what each attack class looks like, at paranoia levels 1 to 4.

Written for edgeline from the attack classes themselves (how SQL injection,
XSS, path traversal, command injection, log4shell, shellshock, SSRF, XXE and
template injection payloads are built), not taken from any other project's
rule set.

Each signature is ``(id, paranoia, targets, pattern, message)``:

``paranoia``  the lowest level that turns it on (1: almost never seen in
              legitimate traffic; 4: strict, expect false positives)
``targets``   where it looks: ``a`` query arguments (names and values),
              ``b`` body documents (prose, markdown and code snippets live
              here, so broad signatures start one level higher), ``c``
              cookie names and values,
              ``h`` the User-Agent and Referer headers, ``x`` every other
              header value, ``p`` the path, ``f`` an uploaded file's name;
              ``v`` (a body field: a form, JSON or XML value of one or two
              lines: the body signatures and the level 1 argument ones that
              code does not set off) and ``s`` (a path segment) are derived,
              see ``_with_fields``
``pattern``   a regex over the *transformed* value: decoded until stable
              (at most 3 times), HTML entities decoded, NUL removed, lower
              case, whitespace runs collapsed; SQL signatures also see
              comments (``/**/``, ``-- ...``, ``# ...``) as spaces; XSS
              signatures also see tabs and newlines removed (browsers drop
              them inside ``java\\tscript:``)

Patterns use no backreferences and no nested quantifiers; values are cut to
8 KiB before matching.
"""

from __future__ import annotations

from typing import Final

__all__ = ["PROBE_PATHS", "SCANNER_AGENTS", "SIGNATURES"]

Signature = tuple[str, int, str, str, str]

_SEP = r"(?:[;&|`\n]|\$\(|\|\||&&)\s*"
# In bodies a newline separates lines of prose, markdown and code (``\ncurl -s https://...``
# in a README), so body signatures take only the inline separators.
_SEP_INLINE = r"(?:[;&|`]|\$\(|\|\||&&)\s*"
# A line break, or a character some servers truncate to one (U+560A, U+010D).
_NL = r"[\r\n" + "".join(f"\\u{h:02x}0a\\u{h:02x}0d" for h in range(1, 256)) + "]"
# Not followed by a word of prose ("sleep(1000) in java"), though by an SQL keyword it may be.
_NO_PROSE = r"(?!\s+(?!(?:and|or|xor|then|else|end|from|as|limit|union|when|like|is|not)\b)[a-z])"
# An absolute URL's scheme and optional userinfo, before the host.
_URL = r"\b(?:https?|gopher|dict|ftp|ldap|tftp)://(?:[^/@\s]*@)?"

_WRITTEN: Final[dict[str, list[Signature]]] = {
    # ---- SQL injection (variant: sql) ------------------------------------------------
    "sqli": [
        ("EL-SQLI-100", 1, "achpx", r"\bunion(?:[\s+]+(?:all|distinct))?(?:[\s+]+\(*|\(+)\s*select\b",
         "UNION SELECT"),
        ("EL-SQLI-101", 1, "b", r"(?:['\")]|\d|^)\s*union(?:\s+(?:all|distinct))?(?:\s+\(*|\(+)\s*select\b",
         "UNION SELECT after a closed value"),
        ("EL-SQLI-110", 1, "abchx", r";\s*(?:drop\s+(?:table|database|user|schema)|delete\s+from|"
         r"insert\s+into|update\s+[\w.\[\]`\"]+\s+set|truncate\s+table|shutdown\b|"
         r"exec(?:ute)?\s+(?:xp_|sp_|master\.)|declare\s+@|create\s+(?:table|user|procedure|function)|"
         r"alter\s+(?:table|user))|^[\w'\"]{0,20}\s*;\s*select\s+[\w*,()@\s]{1,80}\bfrom\b",
         "stacked query"),
        ("EL-SQLI-161", 1, "achx", r"\bselect\b[^;]{0,60}\bfrom\s+dual\b|\bselect\s+case\s+when\b|"
         r"\bcase\s+when\s*\(*\s*\d+\s*=\s*\d+\s*\)*\s*then\b", "SQL probing expression"),
        ("EL-SQLI-120", 1, "achpx", r"(?<!\.)\b(?:sleep|pg_sleep)\s*\(\s*\d+(?:\.\d+)?\s*\)" + _NO_PROSE + "|"
         r"\bbenchmark\s*\(\s*\d+\s*,|\bwaitfor\s+(?:delay|time)\s+['\"]|"
         r"\bdbms_(?:pipe\.receive_message|lock\.sleep)\b|\brandomblob\s*\(\s*\d{5,}",
         "time-based blind SQL"),
        ("EL-SQLI-121", 1, "b", r"\bwaitfor\s+(?:delay|time)\s+['\"]|\bbenchmark\s*\(\s*\d+\s*,|"
         r"\bpg_sleep\s*\(|(?:['\")]\s*|\b(?:and|or)\s+)\(*\s*(?:select\s*\(*\s*)?sleep\s*\(\s*\d|"
         r";\s*select\s*\(*\s*(?:sleep|pg_sleep|benchmark)\s*\(",
         "time-based blind SQL"),
        ("EL-SQLI-122", 2, "b", r"\b(?:sleep|pg_sleep)\s*\(\s*\d+(?:\.\d+)?\s*\)", "sleep call"),
        ("EL-SQLI-130", 1, "achpx", r"\binformation_schema\b|\bmysql\.user\b|\bsysobjects\b|"

         r"\bsyscolumns\b|\bpg_(?:catalog|shadow|user)\b|\bsqlite_master\b|\bmsysobjects\b|"
         r"\bxp_cmdshell\b|\bsp_(?:executesql|oacreate|makewebtask)\b|\bload_file\s*\(|"
         r"\binto\s+(?:out|dump)file\b|\butl_(?:http|inaddr)\b|\b(?:extractvalue|updatexml)\s*\(|"
         r"@@(?:version|datadir|hostname|basedir|servername)\b|\bgroup_concat\s*\(|"
         r"\bchar\s*\(\s*\d+\s*(?:,\s*\d+\s*){2,}\)|\bconcat(?:_ws)?\s*\(\s*(?:0x[0-9a-f]+|@@|char\s*\()",
         "database internals or SQL functions used by injection"),
        ("EL-SQLI-131", 2, "b", r"\binformation_schema\b|\bxp_cmdshell\b|\bload_file\s*\(|"
         r"\binto\s+(?:out|dump)file\b|@@version\b|\b(?:extractvalue|updatexml)\s*\(",
         "database internals in a body"),
        ("EL-SQLI-164", 1, "achpx", r"\bcopy\s+[\w.(),'\" ]{1,80}\b(?:from|to)\s+program\b|"
         r"\bctxsys\.drithsx\b|\bdbms_(?:pipe|lock|xmlgen|java|scheduler)\.",
         "database functions used to run commands or wait"),
        ("EL-SQLI-141", 1, "achx", r"['\")]\s*(?:order|group)\s+by\s+\d+\b|"
         r"(?:['\")]|^\d+)\s*having\s+\d", "ORDER BY / HAVING probing"),
        ("EL-SQLI-142", 1, "achx", r"\border\s+by\s+\d+\s*(?:--|#|;|$)", "ORDER BY probing"),
        ("EL-SQLI-150", 1, "abchpx", r"['\")]\s*(?:and|or|xor|\|\||&&|[-+=<>,])\s*\(*\s*select\b",
         "subquery after a closed value"),
        ("EL-SQLI-151", 1, "achx", r"\b(?:ascii|ord|substr(?:ing)?|mid|length|hex|unhex|if|iif|"
         r"elt|make_set)\s*\(+\s*(?:select\b|@@|user\s*\(|database\s*\(|version\s*\()",
         "blind SQL extraction"),
        ("EL-SQLI-152", 1, "abchx", r"\b(?:and|or)\s+\d+\s*=\s*(?:convert|cast)\s*\(", "error-based SQL"),
        ("EL-SQLI-154", 1, "abchx", r"\b(?:and|or)\s+\(+\s*select\b.{0,100}\bfrom\b",
         "boolean subquery"),
        ("EL-SQLI-160", 1, "achx", r"['\"]\s*;\s*(?:select|exec|declare|waitfor|if)\b",
         "statement after a closed value"),
        # Boolean-blind probing compares constants that are false as often as true.
        ("EL-SQLI-155", 1, "achx", r"(?:^|['\")]|\d)\s*(?:and|or|xor|&&|\|\|)\s+\(*\s*(?:"
         r"['\"][^'\"]{0,20}['\"]\s*(?:=|<>|!=|like)\s*['\"]|"
         r"\d{1,10}(?:=|<>|!=|<|>)\d{1,10}\s*(?:$|--|#|;|/\*|\)|'|\")|"
         r"\d{1,10}\s*(?:=|<>|!=|<|>)\s*\d{1,10}\s*(?:--|#|;|/\*))",
         "constant comparison after a closed value"),
        ("EL-SQLI-156", 1, "achx", r"(?:[=<>]|\b(?:in|exists|like|rlike|regexp|any|all|some))\s*\(+"
         r"\s*select\s*(?:\*|\d|@|\(|[a-z_][\w.]{0,40}\s*(?:,|\bfrom\b|\())|"
         r"\bprocedure\s+analyse\s*\(", "subquery operand or SQL probing clause"),
        ("EL-SQLI-159", 1, "abchpx", r"(?:^\d+|['\")])\s*(?:(?:and|or|xor|&&|\|\|)\s+(?:not\s+)?"
         r"[a-z_][\w.]{0,30}\s+)?(?:not\s+)?(?:regexp|rlike)\s+(?:binary\s+)?(?:['\"]|0x[0-9a-f]|"
         r"\(\s*select\b|char\s*\()|^\d+\s*(?:and|or|xor)\s+\d+\s+(?:regexp|rlike|like)\s+\d",
         "REGEXP / RLIKE test after a closed value"),
        # a quote closed and compared with another: 1'='1, '='
        ("EL-SQLI-162", 1, "abchx", r"^[\w-]{0,20}['\"]\s*(?:=|<>|!=|<=>)\s*['\"][\w-]{0,20}$",
         "quoted comparison as the whole value"),
        # A short value closed (by a quote or a digit), then SQL: 1' AND extractvalue(...,
# 1 into outfile, 1'+union+select, 1; drop table
        ("EL-SQLI-163", 1, "v", r"^[\w@.\-]{0,30}(?:['\"`)]|(?<=\d))[\s+)]*(?:(?:and|or|xor|&&|\|\|)[\s+]+[^;]{0,60}?"
         r"(?:\(\s*select\b|\b(?:sleep|benchmark|extractvalue|updatexml|exists|ascii|substr(?:ing)?|"
         r"concat|char|version|user|database|pg_sleep)\s*\(|@@\w+)|(?:union(?:[\s+]+(?:all|distinct))?"
         r"[\s+]+\(*\s*select|into\s+(?:out|dump)file|procedure\s+analyse|(?:order|group)\s+by\s+\d)\b|"
         r";\s*(?:drop|delete|insert|update|truncate|shutdown|exec|declare|select)\b)",
         "SQL after a short value"),
        ("EL-SQLI-158", 1, "abchx", r"^[\w@.\-]*['\"]\s*\)*\s*(?:or|and)\s+[a-z_][\w.]{0,30}\s+is\s+"
         r"(?:not\s+)?null"
         r"\s*(?:--|#|;|\)|$)", "IS NULL test after a closed value"),
        ("EL-SQLI-200", 2, "achx", r"\bselect\b[^;]{0,120}?\bfrom\b|\binsert\s+into\b|"
         r"\bdelete\s+from\b|\bupdate\s+\w+\s+set\b|\bdrop\s+(?:table|database)\b",
         "SQL statement"),
        ("EL-SQLI-201", 2, "achx", r"['\"`]\s*(?:or|and|xor|union|having|rlike|regexp|like)\b",
         "SQL keyword after a quote"),
        ("EL-SQLI-202", 2, "achx", r"\b(?:or|and)\s+\d+\s*(?:=|<|>|<>|!=)\s*\d+", "numeric comparison"),
        ("EL-SQLI-203", 2, "achx", r"['\"][^'\"]{0,40}(?:--|#)\s*$", "trailing SQL comment"),
        ("EL-SQLI-204", 2, "achx", r"\b(?:user|database|version|schema|current_user|system_user|"
         r"session_user)\s*\(\s*\)", "SQL information function"),
        ("EL-SQLI-205", 3, "b", r"\bunion(?:\s+all)?\s+select\b|\bselect\b[^;]{0,120}?\bfrom\b",
         "SQL statement in a body"),
        ("EL-SQLI-300", 3, "achx", r"\b(?:select|union|insert|delete|drop|exec|declare|truncate)\b|"
         r"0x[0-9a-f]{6,}|@@\w+|\bchar\s*\(", "SQL keyword"),
        ("EL-SQLI-301", 3, "achx", r"['\"].*(?:--|;)", "quote followed by a terminator"),
        ("EL-SQLI-400", 4, "ac", r"['\";]|--", "SQL meta-character"),
    ],
    # ---- cross-site scripting (variant: xss) ------------------------------------------
    "xss": [
        ("EL-XSS-100", 1, "acphx", r"<script[\s>/]|</script\s*>", "script tag"),
        ("EL-XSS-101", 1, "acphx", r"<[a-z][a-z0-9:-]*[\s/][^>]*?\bon[a-z]{3,}\s*=",
         "tag with an event handler"),
        ("EL-XSS-102", 1, "acphx", r"(?:^|[\s\"'=(>`,])(?:javascript|vbscript|livescript)\s*:",
         "script URI"),
        ("EL-XSS-103", 1, "acphx", r"<(?:iframe|frame|frameset|object|embed|applet|base|meta|svg|math|"
         r"isindex|xss|marquee|portal)\b", "active-content tag"),
        ("EL-XSS-104", 1, "acphx", r"\bsrcdoc\s*=|\bformaction\s*=|\bdata:text/html|"
         r"<style[^>]*>[^<]*(?:expression\s*\(|@import|behavior\s*:|-moz-binding)|"
         r"@import\s*(?:url\s*\(\s*)?['\"]?\s*(?:https?:)?//|"
         r"\bxlink:href\s*=", "HTML injection vector"),
        ("EL-XSS-105", 1, "acphx", r"\bdocument\s*\.\s*(?:cookie|domain|write)\b(?!\s+[a-z])|"
         r"\bwindow\s*\.\s*location\s*=|\.innerhtml\s*=|\bstring\s*\.\s*fromcharcode\s*\(|"
         r"\b(?:alert|prompt|confirm)\s*(?:\(\s*(?:\d|document|window|['\"`/])|`)|"
         r"\beval\s*\(\s*(?:atob|unescape|decodeuri|string|location|name)|"
         r"\btop\s*\[\s*['\"](?:al|ev|pr|co)", "JavaScript sink"),
        ("EL-XSS-106", 1, "acphx", r"(?:^|[\s+])adw-\s*/?\s*(?:script|img|svg|iframe|body|a)\b|"
         r"\$on\s*\.\s*constructor\b|\$eval\s*\(\s*['\"`]|\bconstructor\s*\.\s*constructor\s*\(|"
         r"!\+\[\]|\(\s*!\[\]\s*\+\s*\[\]\s*\)", "UTF-7 markup, template sandbox escape or JSFuck"),
        ("EL-XSS-107", 1, "acphx", r"['\"`]\s*/?\s*on[a-z]{3,}\s*=\s*['\"`]?\s*[a-z_$][\w$.]{0,40}\s*[(`]",
         "injected event handler"),
        # A value closed, then script: "><svg onload=..., '-alert(1)-', " onfocus=alert(1) x="
        ("EL-XSS-115", 1, "v", r"^[\w\s.,:-]{0,30}['\"`]\s*(?:>\s*<[a-z]|/?\s*on(?:[a-z]{3,}\s*=)|"
         r"\)?\s*[-+*/;,|&]\s*(?:alert|prompt|confirm|eval|print)\s*[(`])",
         "script after a closed value"),
        ("EL-XSS-110", 1, "b", r"<script[^>]*>[^<]{0,200}?(?:alert|prompt|confirm|document\.|"
         r"window\.|eval|fetch|xmlhttprequest|atob|fromcharcode|location)",
         "script tag running a sink"),
        ("EL-XSS-111", 1, "b", r"\bon[a-z]{3,}\s*=\s*['\"]?\s*(?:alert|prompt|confirm|eval|document\.|"
         r"window\s*[.\[]|location|fetch|top\[|this\.src|string\.from)", "event handler running a sink"),
        ("EL-XSS-112", 1, "b", r"(?:href|src|action)\s*=\s*['\"]?\s*(?:javascript|vbscript)\s*:",
         "script URI in an attribute"),
        ("EL-XSS-114", 1, "b", r"(?:^|[\s\"'=(])(?:javascript|vbscript)\s*:\s*(?:alert|prompt|confirm|"
         r"eval|document|window|location|fetch|top|parent|this|self|void|\w+\s*\()", "script URI running a sink"),
        ("EL-XSS-113", 1, "b", r"<(?:iframe|object|embed|applet|svg|math)\b[^>]*\bon[a-z]{3,}\s*=|"
         r"\bsrcdoc\s*=|\bdata:text/html|<base\s+href\s*=\s*['\"]?\s*(?:https?:)?//|"
         r"\bexpression\s*\(\s*(?:alert|prompt|confirm|eval|document|window)", "active content in a body"),
        ("EL-XSS-200", 2, "acph", r"<[a-z][a-z0-9]*[\s/>]|</[a-z][a-z0-9]*\s*>|"
         r"\bon[a-z]{3,}\s*=|\b(?:alert|prompt|confirm|eval)\s*\(", "HTML tag or handler"),
        ("EL-XSS-201", 2, "b", r"<script[\s>/]|<(?:iframe|object|embed|applet)\b|"
         r"(?:^|[\s\"'=(])javascript\s*:|\bdocument\s*\.\s*cookie\b", "script in a body"),
        ("EL-XSS-300", 3, "acph", r"<[a-z!/?]|&#x?[0-9a-f]+;?|\\u00[0-9a-f]{2}", "markup or escapes"),
        ("EL-XSS-301", 3, "b", r"<[a-z][a-z0-9]*[^>]*\bon[a-z]{3,}\s*=|<(?:svg|math|base|meta)\b",
         "active markup in a body"),
        ("EL-XSS-400", 4, "ac", r"[<>\"'`]", "HTML meta-character"),
    ],
    # ---- everything else (variant: plain) ----------------------------------------------
    "other": [
        ("EL-SQLI-140", 1, "abchx", r"^[\w@.\-]*['\"]\s*\)*\s*(?:--|#|/\*|;)",
         "quote closed, then a comment"),
        ("EL-SQLI-153", 1, "abchx", r"/\*!\d*\s*(?:union|select|and|or|\d)", "MySQL executable comment"),
        # A comment with text between UNION and SELECT (the SQL form keeps comment text).
        ("EL-SQLI-157", 1, "achx", r"\bunion\s*/\*[^*]{0,60}\*/\s*(?:(?:all|distinct)\s*)?"
         r"(?:/\*[^*]{0,60}\*/\s*)?select\b", "UNION SELECT split by a comment"),
        # path traversal and local file inclusion
        ("EL-LFI-100", 1, "abchx", r"(?:\.\.[/\\]){2,}|(?:[/\\]\.\.){2,}|(?:^|[=/\\])\.\.[/\\](?=[\w.~%$-])",
         "path traversal"),
        ("EL-LFI-104", 1, "achx", r"(?:^|[/\\=])(?:\.ht(?:access|passwd|digest)|web\.config|"
         r"wp-config\.php(?:[.~][\w.~-]*)?|\.(?:git|svn|hg|bzr)(?:[/\\][\w./-]+)?|"
         r"\.env(?:\.[\w.-]+)?|\.(?:npmrc|pypirc|netrc|pgpass|"
         r"ds_store|(?:bash|zsh|mysql|psql)_history|git-credentials|dockercfg|docker/config\.json)|"
         r"\.aws[/\\](?:credentials|config)|\.ssh[/\\][\w.-]+|\.kube[/\\]config|"
         r"id_(?:rsa|dsa|ecdsa|ed25519)(?:\.pub)?|[\w-]+\.(?:php|config|conf|ini|ya?ml|json|sql|xml|"
         r"inc|asp|aspx|jsp)(?:\.(?:bak|old|orig|save|swp|tmp|backup|dist|\d)|~)|"
         r"server-(?:status|info)|actuator[/\\](?:env|heapdump|jolokia|gateway|shutdown|logfile|"
         r"threaddump|configprops|mappings|beans)|(?:wp-content[/\\])?debug\.log|"
         r"(?:database|secrets)\.ya?ml|(?:storage[/\\]logs[/\\])?laravel\.log)$",
         "sensitive file name"),
        ("EL-LFI-101", 1, "abcphx", r"(?:^|[/\\])etc[/\\]+(?:\.[/\\]+)*(?:passwd|shadow|group|hosts|issue|sudoers|"
         r"crontab|master\.passwd|security/passwd|my\.cnf|mysql[/\\]my\.cnf|resolv\.conf|fstab|"
         r"ssh[/\\]sshd_config|(?:nginx|apache2|httpd)[/\\][\w./-]*\.conf)\b|"
         r"(?:^|[/\\])proc[/\\](?:self[/\\]|version\b|cpuinfo\b|meminfo\b|mounts\b|net[/\\])|"
         r"(?:^|[/\\])proc[/\\]\d+[/\\](?:environ|cmdline|maps|mem|fd|cwd|root|exe)\b|"
         r"\b(?:boot|win|system)\.ini\b|windows[/\\]system32\b|\bweb-inf[/\\]|"
         r"\.ssh[/\\](?:id_[a-z0-9]+|authorized_keys)|[/\\]\.(?:htpasswd|bash_history)\b|"
         r"(?:^|[/\\])var[/\\]log[/\\]", "sensitive file"),
        ("EL-LFI-102", 1, "abchx", r"\b(?:php|file|expect|phar|ogg|rar|ssh2|glob|zlib|compress\.zlib|"
         r"zip|compress\.bzip2)://|\bdata://[a-z]+/[\w.+-]+[;,]", "stream wrapper (file inclusion)"),
        ("EL-LFI-200", 2, "abchx", r"\.\.[/\\]|\bzip://|\bdata://", "relative path or wrapper"),
        # remote file inclusion: a script fetched from a numeric host, or the "?" suffix trick
        ("EL-RFI-100", 1, "achx", r"^(?:https?|ftps?)://\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?/"
         r"\S*\.(?:php\d?|txt|inc|sh|pl|py|jsp|aspx?|cgi)\b|^(?:https?|ftps?)://[^\s?#]+/[^\s?#]*\.(?:php\d?|txt|inc|sh|pl|py|jsp|aspx?|cgi)\?+$",
         "remote file inclusion"),
        # command injection
        ("EL-RCE-100", 1, "abchpx", _SEP + r"(?:cat|head|tail|more|less|nl|tac|type|strings|dir)\s+"
         r"[\"']?(?:/|\.|~|\$|[a-z]:\\)", "command reading a file"),
        ("EL-RCE-101", 1, "achpx", _SEP + r"(?:id|whoami|uname|ifconfig|ipconfig|netstat|pwd|hostname|"
         r"systeminfo|printenv|ls|dir|ps|env|tasklist)\s*(?:$|[;&|`)#]|\s-\w|\s/\w)|"
         + _SEP + r"(?:find\s+/|tar\s+-?[cxz]\w*\s|kill\s+-\d|mkfifo\s|crontab\s+-[lre]\b|"
         r"sudo\s+-[lsiu]\b|ps\s+(?:aux|-ef)\b|reg\s+(?:query|add|delete)\s|wmic\s+\w)",
         "reconnaissance command"),
        ("EL-RCE-112", 1, "achpx", r"_\$\$nd_func\$\$_|\bnew\s+function\s*\(\s*['\"`]\s*return\b",
         "Node.js serialized function or code constructor"),
        # Paths spelled with shell wildcards (/???/c?t /???/p?ss??, /bin/ca*)
        ("EL-RCE-111", 1, "abchpx", r"(?:^|[\s;|&`(])/\?\?[a-z?]{0,2}/[a-z?]{0,5}\?",
         "path spelled with wildcards"),
        ("EL-RCE-102", 1, "achpx", _SEP + r"(?:wget|curl|fetch|tftp)\s+(?:-\S+\s+)*(?:(?:https?|ftp)://|"
         r"[\w-]+(?:\.[\w-]+)+[:/])|\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\s*(?:$|[;&|#)`])|"
         + _SEP + r"(?:nc|ncat|netcat|socat|telnet)\s+(?:-[a-z]+\s+)*[\w.\-]+\s+\d{2,5}\b|"
         + _SEP + r"(?:nc|ncat|netcat)\s+.*-[ec]\s|" + _SEP + r"(?:bash|sh|zsh|ksh|dash)\s+-[ic]\b|"
         + _SEP + r"(?:ping\s+-[cn]\s*\d|sleep\s+\d+\s*(?:$|[;&|`)])|nslookup\s+[\w.-]+\.[a-z]{2,}|"
         r"rm\s+-[rf]+\s|chmod\s+[0-7+]|python[23]?\s+-c\b|perl\s+-e\b|php\s+-r\b|ruby\s+-e\b|"
         r"base64\s+-d\b|certutil\b|powershell\b|cmd(?:\.exe)?\s+/c\b|echo\s+[^;|&]*[|>])",
         "command injection"),
        ("EL-RCE-106", 1, "b", _SEP_INLINE + r"(?:wget|curl|tftp)\s+(?:-\S+\s+)*(?:https?|ftp)://|"
         + _SEP_INLINE + r"(?:nc|ncat|netcat|socat)\s+(?:-[a-z]+\s+)*[\w.\-]+\s+\d{2,5}\b|"
         + _SEP_INLINE + r"(?:bash|sh|zsh)\s+-[ic]\b|" + _SEP_INLINE + r"(?:python[23]?\s+-c\b|"
         r"perl\s+-e\b|base64\s+-d\b|powershell\b|cmd(?:\.exe)?\s+/c\b)",
         "command injection in a body"),
        ("EL-RCE-107", 1, "achpx", _SEP + r"(?:/(?:usr/)?s?bin/|/bin/busybox\s+)?"
         r"(?:net\s+(?:user|localgroup|view|share)\b|/(?:usr/)?s?bin/(?:id|whoami|uname|cat|ls|wget|"
         r"curl|nc|ncat|perl|python\d?|php|ruby|busybox|echo|ping|chmod|rm)\b)",
         "command path or Windows net command"),
        ("EL-RCE-108", 1, "acxh", r"\brequire\s*\(\s*['\"`]child_process|\bprocess\s*\.\s*mainmodule\b|"
         r"\bprocess\s*\.\s*binding\s*\(|\bchild_process\s*['\"`]?\s*\)\s*\.\s*(?:exec|spawn)",
         "Node.js code execution"),
        ("EL-RCE-109", 1, "abcxh", r"\bcertutil(?:\.exe)?\s+-urlcache\b|\bbitsadmin(?:\.exe)?\s+/transfer\b|"
         r"\bmshta(?:\.exe)?\s+(?:https?|javascript|vbscript):|\brundll32(?:\.exe)?\s+[\w.\\:]+,|"
         r"\bregsvr32(?:\.exe)?\s+/s\b|%comspec%|\bpowershell(?:\.exe)?\s+(?:-\w+\s+(?:[a-z]+\s+)?)*?"
         r"(?:-(?:e|ec|enc|encodedcommand)\s+[a-z0-9+/=]{8}|-c(?:ommand)?\s+[\"'&]?\s*(?:iex|invoke-|"
         r"start-process|new-object|iwr|\$|\(|&))|\biex\s*\(\s*(?:new-object|iwr|invoke-webrequest)|"
         r"\binvoke-expression\b", "Windows command execution"),
        ("EL-RCE-103", 1, "abchx", r"/bin/(?:ba|z|k|da|c|tc)?sh\b|/dev/(?:tcp|udp)/|"
         r"/usr/bin/(?:id|whoami|wget|curl|nc|perl|python\d?|env)\b|\bcmd\.exe\b|"
         r"\$\{ifs\}|\$ifs\b|\{\s*(?:cat|ls|id|wget|curl|nc)\s*,", "shell path or shell syntax"),
        ("EL-RCE-104", 1, "acphx", r"\$\(\s*(?:id|whoami|uname|cat|ls|sleep|curl|wget|nc|ping|echo|printf|bash|sh)\b|"
         r"`\s*(?:id|whoami|uname|cat|ls|sleep|curl|wget|nc|ping|echo|bash|sh)\b[^`]{0,60}`",
         "command substitution"),
        ("EL-RCE-105", 1, "b", r"^[\w.:/=-]{0,100}\s*(?:[;&|`\n]|\$\(|\|\||&&)\s*(?:id|whoami|uname|cat|"
         r"ls|wget|curl|nc|bash|sh|ping|sleep|echo|nslookup|ifconfig|powershell)\b",
         "command appended to a value"),
        # (in three signatures: each screens on its separators and commands together)
        ("EL-RCE-113", 1, "b", r"^[\w.:/=-]{0,100}\s*(?:[;&|`\n]|\$\(|\|\||&&)\s*(?:ncat|ipconfig|"
         r"/(?:usr/)?s?bin/|net\s+(?:user|localgroup|view)|rm\s+-|busybox|python\d?|perl|ruby|"
         r"chmod|kill|wmic)\b",
         "command appended to a value"),
        ("EL-RCE-114", 1, "b", r"^[\w.:/=-]{0,100}\s*(?:[;&|`\n]|\$\(|\|\||&&)\s*(?:env|ps|tasklist|"
         r"systeminfo|type|dir|certutil|bitsadmin|socat|telnet|find|tar|mkfifo|crontab|sudo|reg)\b",
         "command appended to a value"),
        ("EL-RCE-200", 2, "acx", r"\$\([^)]{1,80}\)|`[^`]{1,80}`|" + _SEP +
         r"(?:cat|ls|id|echo|sleep|curl|wget|nc|bash|sh|ping|uname|whoami)\b", "shell syntax"),
        ("EL-RCE-201", 2, "b", _SEP + r"(?:id|whoami|uname)\s*(?:$|[;&|`)#])|\$\(\s*(?:id|whoami|"
         r"cat|curl|wget)\b", "command injection in a body"),
        # shellshock (CVE-2014-6271): a function definition where a variable is expected
        ("EL-RCE-110", 1, "abchx", r"\(\s*\)\s*\{[^}]*;\s*\}?", "shellshock function definition"),
        # log4shell (CVE-2021-44228) and its obfuscations
        ("EL-JAVA-100", 1, "abcphx", r"\$\{\s*(?:jndi|\$\{|lower\s*:|upper\s*:|::-|env\s*:|sys\s*:|"
         r"java\s*:|date\s*:|main\s*:|base64\s*:|k8s\s*:|docker\s*:|spring\s*:|log4j\s*:|bundle\s*:|"
         r"ctx\s*:|sd\s*:|web\s*:|event\s*:|marker\s*:|jvmrunargs\s*:|script\s*:|dns\s*:|url\s*:)",
         "log4j or Commons Text lookup (log4shell, text4shell)"),
        ("EL-JAVA-101", 1, "abchx", r"\bjndi\s*:\s*(?:ldaps?|rmi|dns|iiop|corba|nds|nis|http)\b",
         "JNDI URL"),
        ("EL-JAVA-102", 1, "abcpxh", r"\(\s*#_?memberaccess|#context\s*\[|@java\.lang\.(?:runtime|"
         r"processbuilder|system)@|\bjava\.lang\.(?:runtime|processbuilder)\b|"
         r"getruntime\s*\(\s*\)\s*\.\s*exec|\bclass\.module\.classloader\b|"
         r"%\{\s*\(#|\bnew\s+java\.|\bjavax\.(?:script|naming)\.|\bscriptenginemanager\b|"
         r"\binvokertransformer\b|\bcommons\.collections\d?\.functors\b|\bjava\.beans\.xmldecoder\b|"
         r"\bclass\.classloader\b", "Java expression / OGNL injection"),
        # deserialization: serialized objects and gadget type names where data is expected
        ("EL-JAVA-103", 1, "abcxh", r"(?:^|[^a-z0-9+/])ro0ab[a-z0-9+/]{4}|(?:^|[^0-9a-f])aced0005[0-9a-f]{4}|"
         r"[\"']@type[\"']\s*:\s*[\"'](?:com\.sun\.|java\.|javax\.|org\.apache\.|com\.alibaba\.|"
         r"org\.springframework\.|ch\.qos\.|oracle\.|com\.mchange\.|org\.hibernate\.)|"
         r"[\"']\$type[\"']\s*:\s*[\"']system\.(?:windows|web|io|diagnostics|data|runtime|"
         r"configuration|management)\b|!!python/(?:object|name|module)|!ruby/(?:object|hash):",
         "serialized object (deserialization gadget)"),
        ("EL-PHP-102", 1, "abcxh", r"(?:^|[;{}\s\"'=])o:\d{1,4}:\"[a-z_\\][\w\\]{0,100}\":\d{1,4}:\{|"
         r"(?:^|[;{}\s\"'=])a:\d{1,4}:\{[^}]{0,200}?\bo:\d{1,4}:\"", "PHP serialized object"),
        # PHP code injection
        ("EL-PHP-100", 1, "achx", r"<\?(?:php\b|=)|\b(?:system|passthru|shell_exec|proc_open|popen|"
         r"pcntl_exec|phpinfo|base64_decode|file_put_contents|create_function|call_user_func"
         r"(?:_array)?|str_rot13|gzinflate|assert)\s*\(", "PHP code injection"),
        ("EL-PHP-103", 1, "achx", r"\$_(?:get|post|cookie|request|server|files|env|session)\s*\[|"
         r"\$globals\s*\[", "PHP variables"),
        ("EL-PHP-105", 1, "achx", r"\b(?:allow_url_include|allow_url_fopen|auto_prepend_file|"
         r"auto_append_file|disable_functions|open_basedir|safe_mode)\s*=", "PHP configuration"),
        ("EL-PHP-106", 1, "abchx", r"\$\{\s*@?\s*(?:system|phpinfo|exec|passthru|shell_exec|eval|assert|"
         r"popen|proc_open)\s*\(|\(\s*['\"]?(?:system|exec|passthru|shell_exec|assert)['\"]?\s*\)\s*\(|"
         r"\b__halt_compiler\b|\b(?:include|require)(?:_once)?\s*\(?\s*['\"][a-z][a-z0-9.]{1,9}://|"
         r"<\?(?:php\b|=)[^?]{0,40}`", "PHP call in interpolation, by name or remote include"),
        ("EL-PHP-101", 1, "b", r"<\?php\b[^?]{0,200}?\b(?:system|passthru|shell_exec|eval|exec|assert|"
         r"base64_decode)\s*\(", "PHP code in a body"),
        ("EL-PHP-200", 2, "acx", r"\b(?:eval|exec|include|require(?:_once)?|fopen|file_get_contents|"
         r"preg_replace)\s*\(", "PHP function call"),
        # template injection
        ("EL-SSTI-100", 1, "abchpx", r"\{\{[^}]{0,60}?(?:__class__|__globals__|__mro__|__subclasses__|"
         r"__builtins__|__import__|\bconfig\b|request\.application|lipsum|cycler|joiner|self\._)|"
         r"\{\{\s*\d+\s*[*+]\s*\d+\s*\}\}|\$\{\s*\d+\s*[*+]\s*\d+\s*\}|<%=\s*\d+\s*[*+]\s*\d+\s*%>|"
         r"[#*@]\{\s*\d+\s*[*+]\s*\d+\s*\}|\{\{\s*['\"]?\s*[a-z]+\s*['\"]?\s*\|\s*attr\s*\(",
         "server-side template injection"),
        ("EL-SSTI-101", 1, "achpx", r"\b__(?:class|mro|subclasses|globals|builtins|base|bases)__\b",
         "Python object traversal"),
        ("EL-SSTI-103", 1, "achpx", r"\{\{\s*\d+\s*[*+]\s*['\"]\d+['\"]\s*\}\}|"
         r"\b__import__\s*\(\s*['\"]os['\"]\s*\)\s*\.\s*(?:system|popen)\b", "template or Python injection"),
        ("EL-SSTI-102", 1, "abchx", r"\{[{%][^}]{0,80}?__(?:class|mro|subclasses|globals|builtins)__|"
         r"<#assign\b|freemarker\.template\.utility|\?new\s*\(\s*\)\s*\(|"
         r"\{php\}|\$\{\s*t\s*\(\s*java\.|<%=?\s*(?:system|exec|spawn|io\.popen|%x)\s*[(\s'\"{]|"
         r"<%=?\s*`", "server-side template injection"),
        ("EL-SSTI-200", 3, "acx", r"\{\{.{0,80}\}\}|\$\{.{0,80}\}|<%.{0,80}%>", "template syntax"),
        # server-side request forgery
        ("EL-SSRF-100", 1, "abchx", r"\b(?:https?|gopher|dict|ftp|ldap|tftp)://(?:\[?fd00:ec2::254|"
         r"[\w:.\[]*169\.254\.169\.254|metadata\.google\.internal|metadata\.azure\.com|100\.100\.100\.200|"
         r"instance-data\b)|\b(?:gopher|dict)://", "cloud metadata or gopher/dict URL"),
        ("EL-SSRF-102", 1, "abchx", _URL + r"[^/?#\s]*/(?:latest/(?:meta-data|user-data|api/token|"
         r"dynamic/instance-identity)|computemetadata/v1|metadata/(?:instance|identity)\b|opc/v[12]/)|"
         + _URL + r"(?:192\.0\.0\.192|\[?fd00:ec2::254)\b", "cloud metadata path"),
        # A host spelled as one integer, in hex or in octal: how filters of 127.0.0.1 and
        # 169.254.169.254 are dodged; no legitimate link is written so.
        ("EL-SSRF-103", 1, "abchx", r"(?:://|@)(?:0x[0-9a-f]{6,8}|[1-9]\d{7,9}|"
         r"0[0-7]{1,4}(?:\.(?:0[0-7]{0,4}|\d{1,3})){1,3}|0x[0-9a-f]{1,2}(?:\.0x[0-9a-f]{1,2}){3}|"
         r"127\.0?\.?1|0)(?=[:/?#\]]|$)",
         "URL to a numeric host"),
        ("EL-SSRF-101", 1, "abchx", r"169\.254\.169\.254|\bfd00:ec2::254\b|::ffff:a9fe:a9fe",
         "cloud metadata address"),
        # Loopback on the port of a service that does not speak HTTP to browsers (SSH, SMTP,
        # Redis, memcached, databases, the Docker and kubelet APIs): port scanning by SSRF.
        ("EL-SSRF-104", 1, "abchx", r"\b(?:https?|ftp)://(?:[^/@\s]*@)?(?:localhost|127\.\d+\.\d+\.\d+|"
         r"0\.0\.0\.0|0|\[::1?\]|\[::ffff:127\.0\.0\.1\]):(?:21|22|23|25|110|111|143|445|2375|2379|3306|"
         r"5432|5984|6379|8500|9000|9200|9300|10250|11211|27017)\b", "URL to a local service port"),
        ("EL-SSRF-200", 2, "abc", r"\b(?:https?|ftp)://(?:[^/@\s]*@)?(?:localhost\b|127\.\d+\.\d+\.\d+|"
         r"0\.0\.0\.0|\[::1?\]|0x7f|2130706433\b|10\.\d+\.\d+\.\d+|192\.168\.\d+|"
         r"172\.(?:1[6-9]|2\d|3[01])\.\d+)", "URL to an internal address"),
        # XML external entities
        ("EL-XXE-100", 1, "abchx", r"<!entity\s+%?\s*[\w.-]*\s+(?:system|public)\b|<!entity\s+%|"
         r"<!doctype\s+[\w:.-]+\s*\[[^\]]*<!entity|<xi:include\b", "XML external entity"),
        # JavaScript prototype pollution (query names such as __proto__[admin]=1, JSON keys)
        ("EL-NODE-100", 1, "abchx", r"__proto__\s*(?:\[|\]|\.|[\"']\s*:)|\bconstructor\s*(?:\[\s*[\"']?\s*"
         r"prototype\b|\.\s*prototype\s*[.\[])", "prototype pollution"),
        # server-side and edge-side includes
        ("EL-SSI-100", 1, "abcxh", r"<!--\s*#\s*(?:exec|include|echo|config|set|fsize|flastmod|printenv)\b|"
         r"<esi:(?:include|vars|debug|assign|eval|choose|inline)\b", "server-side or edge-side include"),
        # LDAP filter injection: a filter closed and another opened, or a wildcard OR
        ("EL-LDAP-100", 1, "achx", r"\*\s*\)\s*\(\s*[|&!(]{0,3}\s*[a-z][\w-]{0,30}\s*[~<>]?=|"
         r"\(\s*[|&]\s*\(\s*[a-z][\w-]{0,30}\s*=\s*\*\s*\)", "LDAP filter injection"),
        # CRLF / response splitting
        ("EL-CRLF-100", 1, "achpx", _NL + r"\s*(?:set-cookie|location|content-(?:type|length)|refresh|"
         r"x-[\w-]+|access-control-[\w-]+)\s*:", "header injection"),
        # mail header and SMTP/IMAP command injection through a line break
        ("EL-CRLF-101", 1, "achpx", _NL + r"\s*(?:bcc|cc|to|from|reply-to)\s*:\s*[^\s@,;]{0,64}@|"
         r"[\r\n]\s*(?:rcpt\s+to|mail\s+from)\s*:|[\r\n]\s*[a-z]{0,3}\d{1,4}\s+(?:capability|login|"
         r"logout|select|examine|fetch|store|uid|noop)\b", "mail header or command injection"),
        # request smuggling or response splitting: a request or status line after a line break
        ("EL-CRLF-102", 1, "achpx", _NL + r"\s*(?:(?:get|post|put|delete|head|options|patch|connect|trace|"
         r"propfind)\s+\S+\s+http/\d|http/\d(?:\.\d)?\s+\d{3}\b)", "request or status line injection"),
        # NoSQL operator injection (in names: user[$ne]=)
        ("EL-NOSQL-103", 1, "achpx", r"\[\s*\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|or|and|"
         r"not|nor|expr|elemmatch|function)\s*\]", "NoSQL operator in a name"),
        ("EL-NOSQL-100", 1, "achpx", r"\$where\s*[\"']?\s*:|"
         r"['\"]\s*;\s*return\s+(?:true|1)\b|\bthis\.\w+\s*(?:==|\.match\s*\(|\.length\s*[<>=])",
         "NoSQL operator injection"),
        ("EL-NOSQL-101", 1, "b", r"[\"']\$(?:where|function|accumulator)[\"']\s*:", "NoSQL code operator"),
        # An operator object where a string is expected ({"$gt": ""} in a value or a JSON
        # key), or a shell-style collection call.
        ("EL-NOSQL-104", 1, "b", r"^[\"']\$(?:ne|gt|gte|lt|lte|nin|regex|where|exists|expr|elemmatch)"
         r"[\"']\s*:$", "NoSQL operator as a JSON key"),
        ("EL-NOSQL-102", 1, "achx", r"\{\s*[\"']?\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|"
         r"expr|or|and|not|nor|elemmatch|function)[\"']?\s*:|\bdb\s*\.\s*(?:[a-z_]\w{0,40}\s*\.\s*)?(?:find|findone|"
         r"insert|insertone|remove|drop|update|updateone|deletemany|deleteone|aggregate|count|"
         r"getcollection|getcollectionnames|dropdatabase|eval|mapreduce)\s*\(\s*(?:[{'\"]|\)\s*(?:$|[;.)]|//))|"
         r"\$where\s*[\"']?\s*:|\bsleep\s*\(\s*\d+\s*\)\s*\|\|", "NoSQL operator injection"),
        ("EL-NOSQL-201", 2, "ac", r"\{\s*[\"']?\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|"
         r"expr|or|and|not|nor)[\"']?\s*:", "NoSQL operator in a value"),
        # an uploaded file the server may run or read as configuration
        ("EL-PHP-104", 1, "f", r"\.(?:php\d?|phtml|phar|pht|phps|pgif|shtml|jspx?|aspx?|ashx|asmx|"
         r"cer|asa|cfm|htaccess|user\.ini)\s*$|^\.ht", "script in an upload name"),
        ("EL-NOSQL-200", 2, "b", r"[\"']\$(?:ne|gt|gte|lt|lte|regex|nin|expr|exists)[\"']\s*:",
         "NoSQL query operator in a body"),
    ],
}



# Level 1 argument signatures that one line of code, SQL or HTML posted in a body field
# matches (<script src=...>, os.system('ls'), SELECT ... UNION SELECT ..., onclick="go()",
# echo $HOME; ls): a body field is matched with the narrower body ones instead.
_CODE_PRONE: Final = frozenset({
    "EL-SQLI-100", "EL-SQLI-120", "EL-SQLI-130", "EL-SQLI-142", "EL-SQLI-156",
    "EL-SQLI-160", "EL-SQLI-161", "EL-XSS-100", "EL-XSS-101", "EL-XSS-102", "EL-XSS-103",
    "EL-XSS-104", "EL-XSS-105", "EL-XSS-107", "EL-PHP-100", "EL-PHP-103", "EL-RCE-101",
    "EL-RCE-102", "EL-RCE-104", "EL-RCE-107", "EL-RCE-108", "EL-SSTI-101", "EL-NOSQL-100",
})


def _with_fields(signature: Signature) -> Signature:
    """Add the derived targets: ``v`` (body fields), ``f`` and ``s`` (level 1 of ``a``)."""
    rule_id, level, targets, pattern, message = signature
    if "b" in targets or (level == 1 and "a" in targets and rule_id not in _CODE_PRONE):
        targets += "v"
    if level == 1 and "a" in targets:
        targets += "fs"
    return (rule_id, level, targets, pattern, message)


SIGNATURES: Final[dict[str, list[Signature]]] = {
    group: [_with_fields(s) for s in signatures] for group, signatures in _WRITTEN.items()}

# Lower-cased substrings of User-Agent values sent by attack tools and vulnerability scanners.
SCANNER_AGENTS: Final[dict[int, tuple[str, ...]]] = {
    1: ("sqlmap", "nikto", "nmap scripting engine", "nmap nse", "masscan", "zgrab", "nuclei",
        "acunetix", "netsparker", "appscan", "webinspect", "w3af", "wpscan", "joomscan",
        "dirbuster", "gobuster", "feroxbuster", "fuzz faster u fool", "wfuzz", "hydra", "havij",
        "arachni", "skipfish", "whatweb", "openvas", "nessus", "burpcollaborator", "commix",
        "xsstrike", "jorgee", "zmeu", "morfeus", "sqlninja", "bsqlbf", "pangolin", "fimap",
        "nstealth", "webshag", "paros", "grabber", "jaascois", "brutus", "l9explore", "l9tcpid",
        "nsauditor", "sysscan", "dirb/", "(hydra)", "ffuf", "httprint", "metasploit", "nasl",
        "qualys", "struts-pwn", "log4j-scan", "interactsh", "zgrab2", "x-scan", "scanbot",
        "vega/", "detectify", "teh forest lobster", "mozilla/5.0 zgrab", "cgichk", "mysqloit",
        "pmafind", "gootkit", "bilbo", "black widow", "absinthe", "wpsec", "crimscanner",
        "wapiti", "dirsearch", "xsser", "jaeles", "tsunami", "ldapinjector", "fimap", "cgiscan",
        "webshag", "dotdotpwn", "padbuster", "nmap/", "zap/", "owasp zap", "sqlsus"),
    2: ("censysinspect", "expanse", "internet-measurement", "netcraftsurveyagent", "leakix",
        "odin", "shodan", "binaryedge", "project25499", "httpx - open-source", "go-http-client/1.1",
        "python-urllib", "libwww-perl", "lwp-trivial", "winhttp", "java/1.", "scrapy", "mechanize",
        "zmeu", "nimbostratus", "petalbot", "mj12bot", "dotbot", "blexbot", "semrushbot-ba"),
    3: ("python-requests", "python-httpx", "aiohttp", "curl/", "wget/", "okhttp", "axios/",
        "node-fetch", "go-http-client", "apache-httpclient", "httpclient", "ahrefsbot",
        "semrushbot", "headlesschrome", "phantomjs", "selenium", "puppeteer", "playwright"),
}

# Paths of files and admin endpoints that scanners probe for. Regexes over the
# normalized, lower-cased path.
PROBE_PATHS: Final[list[tuple[str, int, str, str]]] = [
    ("EL-PROBE-100", 1, r"/\.(?:env|git|svn|hg|bzr|cvs|ds_store|htaccess|htpasswd|aws|ssh|docker|"
     r"npmrc|pypirc|bash_history|zsh_history|mysql_history|psql_history|idea|vscode|kube|netrc|"
     r"git-credentials|gitconfig|travis\.yml|circleci)(?:[/.]|$)|/\.env\.[a-z0-9_.-]+$",
     "dotfile or repository metadata"),
    ("EL-PROBE-101", 1, r"/(?:wp-login\.php|xmlrpc\.php|wp-admin(?:/|$)|wp-config\.php|"
     r"wp-includes/|wlwmanifest\.xml)", "WordPress probe"),
    ("EL-PROBE-102", 1, r"/(?:phpmyadmin|pma|myadmin|mysqladmin|phpminiadmin|adminer)(?:[/._-]|$)|"
     r"/phpinfo\.php|/info\.php$|/server-(?:status|info)(?:/|$)|/cgi-bin/|/vendor/phpunit/|"
     r"eval-stdin\.php|/boaform/|/hnap1(?:/|$)|/solr/admin|/manager/html|/jmx-console|"
     r"/invoker/(?:jmx|ejb)|/_ignition/execute-solution|/containers/json|/remote/fgt_lang|"
     r"/setup\.cgi|/shell\?|/cgi-bin/luci|/\.vscode/sftp\.json|/sftp-config\.json|"
     r"/config\.(?:php|json|ya?ml|inc)\.(?:bak|old|save|swp|orig)|/web\.config$|"
     r"/(?:etc|proc)/|/druid/index\.html|/hudson|/jenkins/script|/actuator/(?:env|heapdump|"
     r"jolokia|gateway|shutdown|logfile)|/debug/pprof|/telescope/requests|/elmah\.axd|"
     r"/trace\.axd|/owa/auth/x\.js|/autodiscover/autodiscover\.json|/cgi/", "admin panel or exploit probe"),
    ("EL-PROBE-103", 1, r"\.(?:sql|bak|swp|swo|old|orig|save|dump|sqlite3?|mdb|pem|key|ppk|jks|"
     r"kdbx|tfstate)$|~$|/(?:backup|dump|db|database|site|www|wwwroot|htdocs)\.(?:zip|tar|tar\.gz|"
     r"tgz|rar|7z|gz)$|/id_(?:rsa|dsa|ecdsa|ed25519)$|/(?:credentials|secrets)\.(?:json|ya?ml|"
     r"xml|txt)$", "backup, key or dump file"),
    ("EL-PROBE-200", 2, r"/(?:actuator|console|_profiler|debug|administrator|admin\.php|"
     r"ecp|owa|autodiscover|global-protect|webui|manager|jmx|axis2?|wls-wsat|_async|"
     r"phpunit|\.well-known/(?:jenkins|openid-configuration/\.\.))(?:[/.?]|$)|"
     r"\.(?:log|ini|conf|cfg|config|inc|yml|yaml|toml|properties|xml\.bak)$",
     "admin endpoint or config file"),
    ("EL-PROBE-300", 3, r"\.(?:php\d?|phtml|asp|aspx|ashx|asmx|jsp|jspx|do|action|cgi|pl|cfm|"
     r"shtml)$", "server-side script extension"),
]
