"""Views in the web client: the picker, the view form, and the live camera list."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_web_client import log_in, playing
from tests.conftest import ADMIN, OPERATOR
from tests.support.media_checks import wait_for_online
from tests.support.server import RunningServer, auth

pytestmark = pytest.mark.browser

AddCamera = Callable[[str], str]


@pytest.fixture
def add_camera(server: RunningServer, admin_token: str) -> AddCamera:
    """Adds a 360p synthetic camera through the API and waits until it is online."""

    def add(name: str) -> str:
        response = httpx.post(
            f"{server.base_url}/api/v1/cameras",
            json={"name": name, "urls": ["synthetic:360p"]},
            headers=auth(admin_token),
        )
        response.raise_for_status()
        camera_id: str = response.json()["id"]
        wait_for_online(server.base_url, admin_token, camera_id)
        return camera_id

    return add


def tile_ids(page: Page) -> list[str]:
    ids: list[str] = page.locator("#grid .tile").evaluate_all(
        "tiles => tiles.map(t => t.dataset.cameraId)"
    )
    return ids


def option_labels(page: Page) -> list[str]:
    return page.locator("#view-select option").all_inner_texts()


def tile_video(camera_id: str) -> str:
    return f'#grid .tile[data-camera-id="{camera_id}"] video'


def test_shared_view_made_in_the_form_survives_a_reload_and_follows_roles(
    browser: Browser,
    page: Page,
    server: RunningServer,
    admin_token: str,
    add_camera: AddCamera,
) -> None:
    cam_a, cam_b, cam_c = add_camera("Cam A"), add_camera("Cam B"), add_camera("Cam C")
    log_in(page, server.base_url, *ADMIN)
    expect(page.locator("#grid-title")).to_have_text("All cameras", timeout=10_000)
    assert tile_ids(page) == [cam_a, cam_b, cam_c]  # the server lists cameras by name
    assert option_labels(page) == ["All cameras"]
    expect(page.locator("#view-edit")).to_be_hidden()  # the built-in view cannot be changed

    page.locator("#view-new").click()
    form = page.locator("form#view-form")
    boxes = form.locator("input[name=camera]")
    assert boxes.evaluate_all("bs => bs.map(b => b.value)") == [cam_a, cam_b, cam_c]
    form.locator("input[name=name]").fill("Gates")
    form.locator(f'input[name=camera][value="{cam_c}"]').check()
    form.locator(f'input[name=camera][value="{cam_a}"]').check()
    form.locator("select[name=columns]").select_option("1")
    form.locator("input[name=shared]").check()
    form.locator("button[type=submit]").click()

    expect(page.locator("#grid-title")).to_have_text("Gates")
    expect(page.locator("#grid .tile")).to_have_count(2)
    assert tile_ids(page) == [cam_a, cam_c]  # the cameras' listed order
    assert page.url.split("#")[1].startswith("/view/")
    view_id = page.locator("#view-select").input_value()
    assert page.url.endswith(f"#/view/{view_id}")
    assert option_labels(page) == ["All cameras", "Gates"]
    playing(page, tile_video(cam_a))
    playing(page, tile_video(cam_c))
    first, second = (page.locator("#grid .tile").nth(i).bounding_box() for i in range(2))
    assert first is not None and second is not None
    assert first["x"] == second["x"] and second["y"] > first["y"]  # one column, on 1280 px

    page.reload()
    expect(page.locator("#grid-title")).to_have_text("Gates", timeout=10_000)
    expect(page.locator("#view-select")).to_have_value(view_id)
    expect(page.locator("#grid .tile")).to_have_count(2)
    assert tile_ids(page) == [cam_a, cam_c]

    saved = httpx.get(f"{server.base_url}/api/v1/views", headers=auth(admin_token)).json()
    assert [(v["name"], v["shared"], v["camera_ids"], v["columns"]) for v in saved[1:]] == [
        ("Gates", True, [cam_a, cam_c], 1)
    ]

    httpx.put(
        f"{server.base_url}/api/v1/roles/operator/cameras",
        json={"camera_ids": [cam_c]},
        headers=auth(admin_token),
    ).raise_for_status()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    operator = context.new_page()
    try:
        log_in(operator, server.base_url, *OPERATOR)
        expect(operator.locator("#grid-title")).to_have_text("All cameras", timeout=10_000)
        assert option_labels(operator) == ["All cameras", "Gates"]
        operator.locator("#view-select").select_option(label="Gates")
        expect(operator.locator("#grid-title")).to_have_text("Gates")
        assert operator.url.endswith(f"#/view/{view_id}")
        expect(operator.locator("#grid .tile")).to_have_count(1)
        assert tile_ids(operator) == [cam_c]
        expect(operator.locator("#view-edit")).to_be_hidden()  # not the operator's view
        playing(operator, tile_video(cam_c))
    finally:
        context.close()


def test_open_grid_follows_cameras_added_and_removed(
    page: Page, server: RunningServer, admin_token: str, add_camera: AddCamera
) -> None:
    cam_a = add_camera("Cam A")
    log_in(page, server.base_url, *ADMIN)
    expect(page.locator("#grid .tile")).to_have_count(1, timeout=10_000)
    playing(page, tile_video(cam_a))
    page.evaluate("() => { window.samePage = true; }")

    cam_b = add_camera("Cam B")
    expect(page.locator(tile_video(cam_b))).to_be_attached(timeout=10_000)
    assert tile_ids(page) == [cam_a, cam_b]
    playing(page, tile_video(cam_b))
    page.eval_on_selector(tile_video(cam_b), "v => { v.dataset.mark = 'kept'; }")

    httpx.delete(
        f"{server.base_url}/api/v1/cameras/{cam_a}", headers=auth(admin_token)
    ).raise_for_status()
    expect(page.locator("#grid .tile")).to_have_count(1, timeout=10_000)
    assert tile_ids(page) == [cam_b]
    # The tile that stayed kept its element (its player was not restarted) and still plays.
    assert page.eval_on_selector(tile_video(cam_b), "v => v.dataset.mark") == "kept"
    playing(page, tile_video(cam_b))
    assert page.evaluate("() => window.samePage") is True  # no reload


def test_edit_and_delete_a_view_in_the_form(
    page: Page, server: RunningServer, admin_token: str, add_camera: AddCamera
) -> None:
    cam_a, cam_b = add_camera("Cam A"), add_camera("Cam B")
    created = httpx.post(
        f"{server.base_url}/api/v1/views",
        json={"name": "Yard", "camera_ids": [cam_b], "columns": 3},
        headers=auth(admin_token),
    )
    created.raise_for_status()
    view_id = created.json()["id"]
    log_in(page, server.base_url, *ADMIN)
    expect(page.locator("#grid-title")).to_have_text("All cameras", timeout=10_000)
    page.locator("#view-select").select_option(view_id)
    expect(page.locator("#grid-title")).to_have_text("Yard")
    assert tile_ids(page) == [cam_b]

    page.locator("#view-edit").click()
    form = page.locator("form#view-form")
    expect(form.locator("input[name=name]")).to_have_value("Yard")
    expect(form.locator(f'input[name=camera][value="{cam_b}"]')).to_be_checked()
    expect(form.locator(f'input[name=camera][value="{cam_a}"]')).not_to_be_checked()
    expect(form.locator("select[name=columns]")).to_have_value("3")
    assert form.locator("input[name=shared]").count() == 0  # sharing is chosen at creation

    form.locator("input[name=name]").fill("   ")  # the server refuses a blank name
    form.locator("button[type=submit]").click()
    expect(page.locator("#error")).to_have_text("a view name is 1 to 100 characters")
    expect(form).to_be_visible()

    form.locator("input[name=name]").fill("Back yard")
    form.locator(f'input[name=camera][value="{cam_a}"]').check()
    form.locator("select[name=columns]").select_option("2")
    form.locator("button[type=submit]").click()
    expect(form).to_have_count(0)
    expect(page.locator("#error")).to_be_empty()
    expect(page.locator("#grid-title")).to_have_text("Back yard")
    expect(page.locator("#grid .tile")).to_have_count(2)
    assert tile_ids(page) == [cam_b, cam_a]  # kept cameras keep their place; new ones go last
    expect(page.locator("#view-select option:checked")).to_have_text("Back yard")
    saved = httpx.get(f"{server.base_url}/api/v1/views/{view_id}", headers=auth(admin_token))
    assert (saved.json()["name"], saved.json()["camera_ids"], saved.json()["columns"]) == (
        "Back yard",
        [cam_b, cam_a],
        2,
    )
    playing(page, tile_video(cam_a))

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#view-delete").click()
    expect(page.locator("#grid-title")).to_have_text("All cameras")
    assert page.url.endswith("#/")
    assert option_labels(page) == ["All cameras"]
    gone = httpx.get(f"{server.base_url}/api/v1/views/{view_id}", headers=auth(admin_token))
    assert gone.status_code == 404


def test_picker_without_the_all_cameras_view(
    page: Page, server: RunningServer, admin_token: str, add_camera: AddCamera
) -> None:
    cam_b = add_camera("Cam B")
    httpx.patch(
        f"{server.base_url}/api/v1/settings",
        json={"general": {"features": {"all_cameras_view": False}}},
        headers=auth(admin_token),
    ).raise_for_status()
    log_in(page, server.base_url, *OPERATOR)
    expect(page.locator("#grid-empty")).to_have_text(
        "No views: ask an administrator, or create one.", timeout=10_000
    )
    expect(page.locator("#view-select")).to_be_hidden()
    expect(page.locator("#view-new")).to_be_visible()
    assert page.locator("#grid .tile").count() == 0

    # A shared view made meanwhile is offered within a refresh, without a reload.
    httpx.post(
        f"{server.base_url}/api/v1/views",
        json={"name": "Lobby", "camera_ids": [cam_b], "columns": 2, "shared": True},
        headers=auth(admin_token),
    ).raise_for_status()
    expect(page.locator("#grid-title")).to_have_text("Lobby", timeout=10_000)
    assert option_labels(page) == ["Lobby"]
    assert page.locator("#view-select option[value=all-cameras]").count() == 0
    expect(page.locator("#grid .tile")).to_have_count(0)  # the operator may see no camera
    expect(page.locator("#grid-empty")).to_have_text("This view has no cameras that you may view.")
