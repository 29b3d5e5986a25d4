"""GitHub's error responses as exceptions the routes raise and the pipeline renders.

Bodies follow what api.github.com sends today: `message`, `documentation_url`, `status` (a
string), and for semantic validation failures an `errors` array of
`{resource, field, code[, value, message]}`
(https://docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api).
"""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.github.com/rest"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        documentation_url: str = DOCS,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.documentation_url = documentation_url
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        body["documentation_url"] = self.documentation_url
        body["status"] = str(self.status)
        return body


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def bad_credentials() -> ApiError:
    return ApiError(401, "Bad credentials")


def requires_authentication() -> ApiError:
    return ApiError(401, "Requires authentication")


def forbidden(message: str) -> ApiError:
    return ApiError(403, message)


def bad_json() -> ApiError:
    return ApiError(400, "Problems parsing JSON")


def validation_failed(resource: str, field: str, code: str, **extra: Any) -> ApiError:
    error: dict[str, Any] = {"resource": resource, "field": field, "code": code, **extra}
    return ApiError(422, "Validation Failed", errors=[error])
