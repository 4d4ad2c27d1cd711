"""``FormData``: an ordered multi-map of form fields, encodable as multipart."""

from __future__ import annotations

from collections.abc import Generator, Iterator, MutableMapping
from email.parser import BytesParser
from email.policy import default
from typing import Any
from urllib.parse import parse_qsl

from .blob import Blob, File

FormDataValue = "str | js.Blob | Blob"


class FormData(MutableMapping[str, Any]):
    """Form fields in order; a name may repeat (``append``, ``get_all``)."""

    def __init__(self, form_data: dict[str, Any] | FormData | None = None) -> None:
        self._fields: list[tuple[str, Any]] = []
        if not form_data:
            return
        if isinstance(form_data, FormData):
            self._fields = list(form_data._fields)
            return
        if isinstance(form_data, dict):
            for k, v in form_data.items():
                self.append(k, v)
            return
        raise TypeError("Expected form_data to be a dict or an instance of FormData")

    def __getitem__(self, key: str) -> Any:
        for k, v in self._fields:
            if k == key:
                return v
        return None  # NOTE: the SDK returns null (None) for a missing name

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, list):
            raise TypeError("Expected single item in arguments to FormData.__setitem__")
        self.delete(key)
        self._fields.append((key, value))

    def append(self, key: str, value: Any, filename: str | None = None) -> None:
        if filename is not None and isinstance(value, Blob):
            value = File([value], filename, value.content_type)
        elif isinstance(value, Blob) and not isinstance(value, File):
            value = File([value], "blob", value.content_type)
        self._fields.append((key, value))

    def delete(self, key: str) -> None:
        self._fields = [p for p in self._fields if p[0] != key]

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self._fields)

    def keys(self) -> Generator[str, None, None]:  # type: ignore[override]
        yield from (k for k, _ in self._fields)

    def values(self) -> Generator[Any, None, None]:  # type: ignore[override]
        yield from (v for _, v in self._fields)

    def items(self) -> Generator[tuple[str, Any], None, None]:  # type: ignore[override]
        yield from self._fields

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def __delitem__(self, key: str) -> None:
        self.delete(key)

    def __len__(self) -> int:
        return len(self._fields)

    def get_all(self, key: str) -> list[Any]:
        return [v for k, v in self._fields if k == key]

    @property
    def js_object(self) -> FormData:
        return self

    def _encode(self) -> tuple[bytes, str]:
        """Encode as ``multipart/form-data`` (RFC 7578): the body and its Content-Type."""
        boundary = "----edgelineFormBoundary" + format(id(self), "x")
        out = bytearray()
        for name, value in self._fields:
            out += f"--{boundary}\r\n".encode()
            if isinstance(value, File):
                out += (f'Content-Disposition: form-data; name="{name}"; filename="{value.name}"\r\n'
                        f"Content-Type: {value.content_type or 'application/octet-stream'}\r\n\r\n").encode()
                out += value._data
            else:
                out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                out += str(value).encode()
            out += b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return bytes(out), f"multipart/form-data; boundary={boundary}"

    @classmethod
    def _decode(cls, data: bytes, content_type: str) -> FormData:
        """Parse a urlencoded or multipart body, as ``Request.formData()`` does."""
        form = cls()
        mime = content_type.split(";")[0].strip().lower()
        if mime == "application/x-www-form-urlencoded":
            for k, v in parse_qsl(data.decode(), keep_blank_values=True):
                form.append(k, v)
            return form
        if mime != "multipart/form-data":
            raise TypeError(f"Unrecognized Content-Type header value: {content_type!r}")
        message = BytesParser(policy=default).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + data
        )
        if not message.is_multipart():
            raise TypeError("Failed to parse body as FormData.")
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition") or "")
            filename = part.get_filename()
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                payload = b""
            if filename is not None:
                form.append(name, File([payload], filename, part.get_content_type()))
            else:
                form.append(name, payload.decode(part.get_content_charset() or "utf-8"))
        return form
