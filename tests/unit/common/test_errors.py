from common.errors import HttpError, error_body


def test_error_body():
    assert error_body(404, "not_found", "No such media.") == {
        "error": "No such media.",
        "code": "not_found",
    }
    assert error_body(413, "file_too_large", "Too big.", max_file_size=10) == {
        "error": "Too big.",
        "code": "file_too_large",
        "max_file_size": 10,
    }


def test_api_error_carries_status_code_message_headers_and_extra():
    error = HttpError(
        405, "method_not_allowed", "Use GET.", headers={"Allow": "GET"}, extra={"x": 1}
    )
    assert (error.status, error.code, error.message) == (
        405,
        "method_not_allowed",
        "Use GET.",
    )
    assert error.headers == {"Allow": "GET"}
    assert error.body() == {"error": "Use GET.", "code": "method_not_allowed", "x": 1}
    assert str(error) == "Use GET."
    assert isinstance(error, Exception)


def test_api_error_defaults():
    error = HttpError(400, "bad", "Bad.")
    assert error.headers == {} and error.extra == {}
    assert error.body() == {"error": "Bad.", "code": "bad"}
    assert "400" in repr(error)
