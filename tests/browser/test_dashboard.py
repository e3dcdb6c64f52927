"""The dashboard as a person uses it: sign-in (by keyboard too), uploads through Uppy over tus
(two at once; one cut off by a page reload resumes, over 100 MiB), the library updating itself,
the media page's player, timeline and signed links, the webhooks page, phone width, and a
cross-site request carrying the session cookie refused."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import sign_in
from tests.e2e.conftest import API_KEY, eventually
from tests.e2e.processor_helpers import make_image, make_video, upload, wait_final

MiB = 1024 * 1024
CHUNK = 50 * MiB  # the dashboard's tus chunk size (dashboard/src/main.js)
# Screenshots of the library, an upload in progress and the media page go to .local/screenshots
# (git-ignored); docs/screenshots holds copies of them, refreshed by hand
# (SCREENSHOT_DIR=docs/screenshots scripts/test tests/browser).
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(__file__).resolve().parents[2] / ".local" / "screenshots")


def screenshot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.fixture(scope="module")
def media_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dashboard-media")
    # 720p and 12 s: an HLS ladder of two rungs (360p, 720p) with three segments each, so the
    # player can be seen to move between rungs.
    video = make_video(folder / "clip.mp4", seconds=12, size="1280x720")
    image = make_image(folder / "still.png")
    return video, image


def test_sign_in_a_wrong_key_in_words_and_sign_out_ends_the_session(page, context, dashboard_url):
    page.goto("/")
    page.get_by_label("API key").fill("not-the-key")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That API key is not valid. Check it and try again."
    assert not [c for c in context.cookies() if c["name"] == "mp_session"]

    page.get_by_label("API key").fill(API_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Library").wait_for()
    [cookie] = [c for c in context.cookies() if c["name"] == "mp_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert not cookie["secure"]  # plain http locally; https gets Secure (tests/unit/api/test_sessions.py)
    storage = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert API_KEY not in storage and API_KEY not in page.content()
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it

    old = {"cookie": f"mp_session={cookie['value']}"}
    assert httpx.get(f"{dashboard_url}/api/media", headers=old).status_code == 200
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    assert httpx.get(f"{dashboard_url}/api/media", headers=old).status_code == 401


def test_keyboard_only_sign_in_and_navigation(page):
    page.goto("/")
    page.get_by_label("API key").wait_for()
    assert page.evaluate("document.activeElement.id") == "api-key"  # focused, ready to type
    page.keyboard.type(API_KEY)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Library").wait_for()
    page.wait_for_function("document.activeElement.id === 'main'")  # focus moved to the content
    focused = []
    for _ in range(8):  # the menu is before the content: back to it
        page.keyboard.press("Shift+Tab")
        focused.append(page.evaluate("document.activeElement.textContent.trim()"))
        if focused[-1] == "Webhooks":
            break
    assert focused[-1] == "Webhooks", focused
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Webhooks", exact=True).wait_for()


def test_two_files_uploaded_through_uppy_reach_completed_in_the_library_without_a_reload(signed_in, media_files):
    page = signed_in
    video, image = media_files
    page.goto("/#/upload")
    page.evaluate("window.__no_reload = true")
    page.locator(".uppy-Dashboard-input").first.set_input_files([str(video), str(image)])
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.locator(".uppy-StatusBar.is-complete").wait_for()
    page.get_by_role("link", name="Library").click()
    for name in (video.name, image.name):
        item = page.locator("#library li", has=page.locator("a.name", has_text=name)).first
        item.wait_for()
        # Polling turns the badge to completed; the page never reloads.
        page.locator("#library li[data-status=completed]", has=page.locator("a.name", has_text=name)).first.wait_for()
    assert page.evaluate("window.__no_reload") is True
    screenshot(page, "library")


def test_the_media_page_plays_the_video_shows_the_timeline_copies_a_link_and_deletes(signed_in, api, media_files):
    page = signed_in
    video, _ = media_files
    media_id = upload(api, video.read_bytes(), "video/mp4")
    assert wait_final(api, media_id)["status"] == "completed"
    page.goto(f"/#/media/{media_id}")
    page.locator("#timeline li[data-type='media.ready']").wait_for()
    steps = page.locator("#timeline li").evaluate_all("items => items.map(i => i.dataset.type)")
    assert steps[0] == "media.uploaded" and "job.submitted" in steps and steps[-1] == "media.ready"
    assert page.locator("#timeline .gap").count() == len(steps) - 1  # the time between each two steps

    assert api.get(f"/api/media/{media_id}").json()["playback"]["hls"]
    hls_requests: list[str] = []
    page.on("request", lambda request: "/hls/" in request.url and hls_requests.append(request.url))
    page.reload()  # the listener sees the player's requests from the start
    page.wait_for_function("document.querySelector('#player') && document.querySelector('#player').readyState >= 2")
    page.evaluate("const v = document.querySelector('#player'); v.muted = true; v.play()")
    page.wait_for_function("document.querySelector('#player').currentTime > 0.5")
    screenshot(page, "media-page")
    # hls.js plays the ladder (the master, then variant playlists and their segments), and its
    # bandwidth estimate takes it to a second rung: a request under each rung's folder.
    assert any(url.split("?")[0].endswith("/master.m3u8") for url in hls_requests), hls_requests
    rungs = lambda: {url.split("/")[-2] for url in hls_requests if url.split("?")[0].endswith(".ts")}  # noqa: E731
    deadline = time.monotonic() + 30
    while len(rungs()) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert len(rungs()) >= 2, hls_requests

    page.locator("tr[data-rendition=web]").get_by_role("button", name="Copy the signed link of web").click()
    link = page.evaluate("navigator.clipboard.readText()")
    assert "signature=" in link
    assert httpx.get(link).status_code == 200  # a signed link works without any credential

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("heading", name="Library").wait_for()
    assert api.get(f"/api/media/{media_id}").status_code == 404


class _Hooks:
    """A webhook receiver answering 200 to everything (signatures are tests/e2e/test_webhooks.py's job)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                hooks.received.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def close(self):
        self.server.shutdown()


def test_the_webhooks_page_adds_rotates_and_deletes_an_endpoint_and_shows_its_deliveries(signed_in, api, media_files):
    page = signed_in
    _, image = media_files
    hooks = _Hooks()
    try:
        page.goto("/#/webhooks")
        page.get_by_label("URL").fill(hooks.url)
        page.get_by_label("Description").fill("browser test")
        page.get_by_role("button", name="Add endpoint").click()
        first_secret = page.locator("[data-secret]").get_attribute("data-secret")
        assert first_secret.startswith("whsec_")
        [endpoint] = [e for e in api.get("/api/webhooks").json()["items"] if e["url"] == hooks.url]
        card = page.locator(f"[data-endpoint='{endpoint['id']}']")

        media_id = upload(api, image.read_bytes(), "image/png")
        # Deliveries appear in the page by themselves (the page polls), with their status code.
        card.locator("tr[data-delivery]", has_text="delivered").first.wait_for()
        assert "HTTP 200" in card.locator("table.deliveries").inner_text()
        assert any((h.get("data") or {}).get("id") == media_id for h in hooks.received)
        before = len(hooks.received)
        card.locator("tr[data-delivery]", has_text="delivered").first.get_by_role("button").click()
        eventually(lambda: len(hooks.received) > before, timeout=60)  # replayed: delivered again

        card.get_by_role("button", name="Rotate secret").click()
        page.wait_for_function(f"document.querySelector('[data-secret]').dataset.secret !== {json.dumps(first_secret)}")
        assert page.locator("[data-secret]").get_attribute("data-secret").startswith("whsec_")
        assert api.get(f"/api/webhooks/{endpoint['id']}").json()["previous_secret_until"]

        page.once("dialog", lambda dialog: dialog.accept())
        card.get_by_role("button", name="Delete", exact=True).click()
        card.wait_for(state="detached")
        assert api.get(f"/api/webhooks/{endpoint['id']}").status_code == 404
    finally:
        for e in api.get("/api/webhooks").json()["items"]:
            if e["url"] == hooks.url:
                api.delete(f"/api/webhooks/{e['id']}")
        hooks.close()


def test_a_phone_width_viewport_has_no_horizontal_scroll(browser, dashboard_url, api, media_files):
    context = browser.new_context(base_url=dashboard_url, viewport={"width": 360, "height": 740}, is_mobile=True)
    context.set_default_timeout(90_000)
    try:
        sign_in(context, dashboard_url)
        page = context.new_page()
        media_id = upload(api, media_files[1].read_bytes(), "image/png")
        views = ["/#/", "/#/upload", "/#/overview", "/#/webhooks", f"/#/media/{media_id}"]
        for view in views:
            page.goto(view)
            page.locator("main h1").first.wait_for()
            page.wait_for_load_state("networkidle")
            widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert widths[0] <= widths[1], f"{view}: {widths}"
    finally:
        context.close()


def test_a_cross_site_request_carrying_the_session_cookie_is_refused(context, page, dashboard_url, api):
    """Another port of the same host is the same site, so SameSite=Strict sends the cookie: the
    Origin check and the header are what refuse it (a form cannot add headers)."""
    sign_in(context, dashboard_url)
    evil_url = "http://127.0.0.1:1/never"
    form = (
        f"<form method=POST action='{dashboard_url}/api/webhooks' enctype='text/plain'>"
        f"<input name='{{\"url\": \"{evil_url}\", \"events\": [\"*\"], \"description\": \"' value='\"}}'></form>"
        "<script>document.forms[0].submit()</script>"
    )

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = form.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with page.expect_response(f"{dashboard_url}/api/webhooks") as answer:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        response = answer.value
        assert "mp_session=" in (response.request.all_headers().get("cookie") or "")  # the cookie went along
        assert response.status == 403
        assert response.json()["code"] == "cross_site_refused"
        assert evil_url not in [e["url"] for e in api.get("/api/webhooks").json()["items"]]
    finally:
        server.shutdown()


def test_page_weight_and_time_until_the_library_is_usable(browser, dashboard_url, capsys):
    """The figures of docs/benchmarks.md ("The dashboard"): bytes of JS and CSS the library page
    loads (gzip -6 of each body, as a CDN would send them) and the time from navigation until its
    list is filled, in a fresh context (cold cache). Uppy and hls.js load only on their pages."""
    import gzip

    context = browser.new_context(base_url=dashboard_url)
    try:
        sign_in(context, dashboard_url)
        page = context.new_page()
        bodies: dict[str, bytes] = {}
        page.on("response", lambda r: bodies.__setitem__(r.url, r.body())
                if r.url.endswith((".js", ".css")) and r.ok else None)
        page.goto("/")
        page.locator("#library[aria-busy=false]").wait_for(timeout=60_000)
        usable_ms = page.evaluate("performance.now()")
        page.wait_for_load_state("networkidle")
        raw = sum(len(b) for b in bodies.values())
        packed = sum(len(gzip.compress(b, 6)) for b in bodies.values())
        with capsys.disabled():
            print(f"\n[dashboard] library page: {len(bodies)} JS/CSS files, {raw} bytes, {packed} gzipped;"
                  f" usable after {usable_ms:.0f} ms")
        assert not any("uppy" in url or "hls" in url for url in bodies)  # not on the library page
        assert packed < 60_000, bodies.keys()
        assert usable_ms < 10_000
    finally:
        context.close()


def test_the_library_searches_by_name_and_the_overview_counts_and_charts(signed_in, api, media_files):
    page = signed_in
    _, image = media_files
    upload(api, image.read_bytes(), "image/png")  # at least one still.png, whatever ran before
    page.goto("/#/")
    page.get_by_label("Search by name").fill("still")
    page.get_by_label("Kind").select_option("image")  # a change submits the form
    page.wait_for_function("[...document.querySelectorAll('#library li a.name')].length > 0 &&"
                           " [...document.querySelectorAll('#library li a.name')].every(a => a.textContent.includes('still'))")
    page.get_by_label("Kind").select_option("audio")
    page.locator("#library", has_text="Nothing matches.").wait_for()

    page.goto("/#/overview")
    stats = api.get("/api/stats").json()
    total = page.locator("[data-count=total] strong")
    total.wait_for()
    assert int(total.inner_text()) >= stats["total"] > 0  # polled: only ever grows here
    titles = page.locator("svg.chart rect title").evaluate_all("ts => ts.map(t => t.textContent)")
    assert len(titles) == 14 and not titles[-1].split(": ")[1].startswith("0 uploaded"), titles  # today's bar
    assert page.get_by_role("img", name=re.compile("Uploads per day")).count() == 1

# Last: the processor's work on its large file must not slow the tests before it.
def test_an_upload_over_100_mib_cut_off_by_a_page_reload_resumes_and_completes(signed_in, media_files, tmp_path, api):
    page = signed_in
    video, _ = media_files
    big = tmp_path / "long-take.mp4"
    # A real MP4 first (the API sniffs it), padded past the platform's 100 MiB one-request limit:
    # 101 MiB, three chunks (50 + 50 + 1 MiB). More bytes prove nothing more and cost the suite time
    # (each of Ittybit's downloads of the original is the whole file).
    with big.open("wb") as out:
        out.write(video.read_bytes())
        out.truncate(2 * CHUNK + MiB)
    patches: list[dict] = []
    page.on("request", lambda r: patches.append({"url": r.url, "offset": r.headers.get("upload-offset")})
            if r.method == "PATCH" else None)

    def cut_after_first_chunk(route):
        if route.request.method == "PATCH" and route.request.headers.get("upload-offset") != "0":
            route.abort()  # the second chunk never arrives: the page is then reloaded
        else:
            route.continue_()

    page.goto("/#/upload")
    page.route(re.compile(r".*/api/uploads/[^/?]+$"), cut_after_first_chunk)
    page.locator(".uppy-Dashboard-input").first.set_input_files(str(big))
    second_chunk = lambda r: r.method == "PATCH" and r.headers.get("upload-offset") == str(CHUNK)  # noqa: E731
    with page.expect_request(second_chunk):
        page.locator(".uppy-StatusBar-actionBtn--upload").click()
    screenshot(page, "upload-in-progress")
    page.unroute(re.compile(r".*/api/uploads/[^/?]+$"))
    upload_url = next(p["url"] for p in patches)

    page.reload()
    # What the server kept: the first chunk at least (a cut-off chunk keeps what arrived of it).
    kept = int(httpx.head(upload_url, headers={"tus-resumable": "1.0.0"}).headers["upload-offset"])
    assert CHUNK <= kept < big.stat().st_size
    patches.clear()
    heads: list[tuple[str, str | None]] = []  # what the client asked, and the offset it was told
    page.on("response", lambda r: heads.append((r.url, r.headers.get("upload-offset")))
            if r.request.method == "HEAD" else None)
    page.locator(".uppy-Dashboard-input").first.set_input_files(str(big))
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.locator(".uppy-StatusBar.is-complete").wait_for()
    # Resumed: the stored upload URL was asked for its offset, and no byte before it was sent again.
    # (The server may still have been reading the cut-off chunk's last bytes after `kept` was read.)
    told = [offset for url, offset in heads if url == upload_url]
    assert told and int(told[0]) >= kept, heads
    assert patches and all(p["url"] == upload_url for p in patches)
    assert patches[0]["offset"] == told[0], (patches, told)
    head = httpx.head(upload_url, headers={"tus-resumable": "1.0.0"})
    assert head.headers["upload-offset"] == str(big.stat().st_size)
    assert wait_final(api, head.headers["media-id"])["status"] == "completed"  # the 101 MiB item is processed
    media_id = head.headers["media-id"]
    assert api.get(f"/api/media/{media_id}").json()["size"] == big.stat().st_size
    api.delete(f"/api/media/{media_id}")
