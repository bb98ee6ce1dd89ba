"""The rebuilt run table in a real browser (issue 12's acceptance, SPEC §10): columns chosen in
the Columns menu and sorted by a metadata key, kept in the URL; selection feeding Compare and
Labels…; the phone layout; loading feedback during a slowed request; 20 compact rows at
1400x900; axe-core's WCAG 2 A/AA rules on the list, the grouped list, the Columns menu, the
compare page and the bulk labels preview."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from executions.models import Change, Execution
from tests.factories import make_execution

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "name,workflow,phase,started,duration,launched_by,release,labels"

# (name, team, model, experiment, group, loss, lr): loss is the metadata column sorted on
# (one run has none: missing values sort last), lr the input column.
RUNS = [
    ("run a", "nlp", "bert", "e1", "g1", 0.30, 0.1),
    ("run b", "nlp", "gpt", "e1", "g1", 0.12, 0.01),
    ("run c", "cv", "resnet", "e1", "g2", 0.50, 0.1),
    ("run d", "nlp", "bert", "e2", "g3", 0.05, 0.001),
    ("run e", "cv", "vit", "e2", "g3", None, 0.1),
    ("run f", "nlp", "gpt", "e2", "g4", 0.25, 0.01),
]


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def rows(page):
    return page.locator("#rows tr.execution")


def names(page) -> list[str]:
    return rows(page).locator("td.name > a").all_inner_texts()


def watch_errors(page) -> list[str]:
    """JavaScript errors and failed requests of the page, to assert there are none."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}") if response.status >= 500 else None
        ),
    )
    return errors


@pytest.fixture
def runs(project):
    """Six runs of two teams and two experiments, oldest first (the list shows newest first)."""
    made = []
    for name, team, model, experiment, group, loss, lr in RUNS:
        metadata = {"note": f"{name} notes"} | ({} if loss is None else {"loss": loss})
        made.append(
            make_execution(
                project,
                labels={
                    "name": name,
                    "team": team,
                    "model": model,
                    "experiment": experiment,
                    "group": group,
                },
                user_metadata=metadata,
                inputs={"lr": lr, "epochs": 3},
            )
        )
    return made


# --- 1. Columns: add label., meta. and input. columns in the menu, sort, reload ---------------


def add_column(page, name: str) -> None:
    menu = page.locator("details.columns-menu")
    menu.locator("summary").click()
    expect(menu.locator(".columns-form")).to_be_visible()
    # The box suggests the keys the project's executions have.
    expect(page.locator(f"#column-options option[value='{name}']")).to_have_count(1)
    menu.get_by_label("Add a column").fill(name)
    menu.get_by_role("button", name="Apply").click()
    # The table shows the new column and the URL says so (comma-separated, as SPEC §10).
    expect(page.locator(f"table.executions thead th.col-{name.replace('.', '-')}")).to_have_count(1)
    page.wait_for_url(lambda url: name in query_of(url).get("columns", [""])[0].split(","))


def header_titles(page) -> list[str]:
    heads = page.locator("table.executions thead th:not(.select)").all_inner_texts()
    return [re.sub(r"\s*[↑↓]$", "", title.strip()) for title in heads]


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_columns_chosen_in_the_menu_sort_by_metadata_and_survive_a_reload(
    new_page, project, editor, runs, settings, debug
):
    settings.DEBUG = debug  # `make run` serves the pages with DEBUG on
    page = new_page(editor)
    errors = watch_errors(page)
    page.goto(f"/p/{project.slug}/")
    expect(rows(page)).to_have_count(6)

    for name in ("label.model", "meta.loss", "input.lr"):
        add_column(page, name)
    expected_columns = f"{BASE},label.model,meta.loss,input.lr"
    assert query_of(page.url)["columns"] == [expected_columns]
    titles = ["Name", "Workflow", "Phase", "Started", "Duration", "Launched by", "Release"]
    expected_titles = [*titles, "Labels", "model", "loss", "lr"]
    assert header_titles(page) == expected_titles

    loss_head = page.locator("thead th.col-meta-loss")
    loss_head.get_by_role("link").click()
    page.wait_for_url(lambda url: query_of(url).get("sort_by.key") == ["meta.loss"])
    by_loss_descending = ["run c", "run a", "run f", "run b", "run d", "run e"]

    def same_view() -> None:
        expect(loss_head).to_have_attribute("aria-sort", "descending")
        expect(rows(page).locator("td.name > a")).to_have_text(by_loss_descending)
        assert header_titles(page) == expected_titles
        params = query_of(page.url)
        assert params["columns"] == [expected_columns]
        assert params["sort_by.key"] == ["meta.loss"]
        # Numbers are right-aligned and formatted; a missing value is a dash.
        loss_cells = rows(page).locator("td[data-title='loss']")
        expect(loss_cells).to_have_text(["0.5", "0.3", "0.25", "0.12", "0.05", "—"])
        assert loss_cells.first.evaluate("td => getComputedStyle(td).textAlign") == "right"
        # The label column is a chip that filters; the chips column no longer repeats it.
        expect(rows(page).first.locator("td[data-title='model'] a.chip")).to_have_text("resnet")
        expect(rows(page).first.locator("td.labels")).not_to_contain_text("model")

    same_view()
    url = page.url
    page.reload()
    assert page.url == url
    same_view()
    # Sorting again by the same header flips the direction.
    loss_head.get_by_role("link").click()
    expect(loss_head).to_have_attribute("aria-sort", "ascending")
    expect(rows(page).locator("td.name > a")).to_have_text(
        ["run d", "run b", "run f", "run a", "run c", "run e"]  # missing last both ways
    )
    assert errors == []


# --- 2. Select three rows (a shift-click range) and compare ----------------------------------


def test_three_rows_selected_with_a_shift_click_range_are_compared(new_page, project, editor, runs):
    page = new_page(editor)
    errors = watch_errors(page)
    page.goto(f"/p/{project.slug}/")
    boxes = rows(page).locator("td.select input[type=checkbox]")
    expect(boxes).to_have_count(6)
    compare = page.get_by_role("button", name="Compare")
    expect(compare).to_be_disabled()

    boxes.nth(1).click()
    boxes.nth(3).click(modifiers=["Shift"])  # rows 1 to 3
    expect(page.locator("#rows tr.execution.selected")).to_have_count(3)
    checked = boxes.evaluate_all("boxes => boxes.map(box => box.checked)")
    assert checked == [False, True, True, True, False, False]
    expect(page.locator(".selection-count")).to_have_text("3 selected.")
    expect(compare).to_be_enabled()
    selected = names(page)[1:4]
    assert selected == ["run e", "run d", "run c"]

    compare.click()
    page.wait_for_url(re.compile(rf"/p/{project.slug}/compare/\?"))
    expect(page.locator("th.compare-exec a")).to_have_text(selected)
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare 3 executions")

    model, workflow = (
        page.locator(f"tr.compare-row[data-key='{k}']") for k in ("model", "workflow")
    )
    expect(model.locator("td.differs")).to_have_count(3)
    expect(workflow.locator("td.differs")).to_have_count(0)
    background = "td => getComputedStyle(td).backgroundColor"
    assert model.locator("td").first.evaluate(background) != workflow.locator("td").first.evaluate(
        background
    )
    assert errors == []


# --- 3. Relabel a filtered set after the preview; the history shows it -----------------------


def test_relabel_everything_a_filter_matches_after_the_preview(new_page, project, editor, runs):
    # More nlp runs than a page shows (25 at the smallest page size), and one that has the
    # label already: matched, not changed.
    for i in range(24):
        make_execution(project, labels={"name": f"more {i:02d}", "team": "nlp"})
    make_execution(project, labels={"name": "run g", "team": "nlp", "reviewed": "yes"})
    page = new_page(editor)
    errors = watch_errors(page)
    page.goto(f"/p/{project.slug}/")
    page.get_by_label("Per page").select_option("25")
    page.wait_for_url(lambda url: query_of(url).get("limit") == ["25"])
    page.locator("#q").fill("team:nlp")
    page.locator("#q").press("Enter")
    page.wait_for_url(lambda url: query_of(url).get("q") == ["team:nlp"])
    expect(page.locator(".summary .total")).to_have_attribute("data-total", "29")
    expect(rows(page)).to_have_count(25)

    select_matching = page.get_by_role("button", name="Select all 29 matching")
    expect(select_matching).to_be_hidden()
    page.get_by_label("Select every row shown").click()
    expect(page.locator(".selection-count")).to_have_text("25 selected.")
    expect(select_matching).to_be_visible()
    select_matching.click()
    expect(page.locator(".selection-count")).to_have_text("All 29 matching executions selected.")

    page.get_by_role("button", name="Labels…").click()
    page.wait_for_url(re.compile(rf"/p/{project.slug}/bulk-labels/\?"))
    expect(page.locator(".bulk-selection")).to_contain_text("team:nlp")
    page.get_by_label("Add labels").fill("reviewed:yes")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator(".bulk-preview")
    expect(preview).to_contain_text(re.compile(r"will change\s+28\s+of\s+29\s+executions"))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(rf"/p/{project.slug}/\?"))
    assert query_of(page.url).get("q") == ["team:nlp"]

    reviewed = {e.labels["name"]: e.labels.get("reviewed") for e in Execution.objects.all()}
    assert {name for name, value in reviewed.items() if value != "yes"} == {"run c", "run e"}
    # One history entry per changed execution, none for the one that had the label.
    changes = Change.objects.filter(key="reviewed", by="anne", new="yes")
    changed_names = sorted(change.execution.labels["name"] for change in changes)
    assert len(changed_names) == 28
    assert "run g" not in changed_names
    changed = runs[1]  # run b
    page.goto(changed.get_absolute_url())
    history = page.locator("#history")
    expect(history.get_by_role("heading", name="History")).to_be_visible()
    entry = history.locator("li.history-item").first
    expect(entry).to_contain_text("anne")
    expect(entry).to_contain_text(re.compile(r"added\s+reviewed:yes"))
    assert errors == []


# --- 4. A phone: no sideways scroll, rows as cards, filters folded ----------------------------

PHONE = {"width": 390, "height": 844}


def page_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


@pytest.fixture
def long_run(project, runs):
    """A run with a long name and a long metadata text, as real runs have."""
    return make_execution(
        project,
        labels={
            "name": "nightly-finetune-bert-large-uncased-whole-word-masking-squad2-seed-1234",
            "team": "nlp",
            "experiment": "e1",
            "group": "g1",
            "dataset": "squad-v2-with-adversarial-examples-and-extra-long-label-value",
        },
        user_metadata={"loss": 0.2, "note": "a long note " * 12},
        inputs={"lr": 0.0001},
    )


def test_a_phone_shows_cards_without_sideways_scrolling_and_folds_the_filters(
    new_page, project, editor, long_run
):
    page = new_page(editor)
    page.set_viewport_size(PHONE)
    errors = watch_errors(page)
    page.goto(f"/p/{project.slug}/?columns={BASE},meta.loss,meta.note")
    expect(rows(page)).to_have_count(7)
    assert page_width(page) <= PHONE["width"]

    # Cards: no table head; each row shows its name, phase, started, duration and the chosen
    # columns.
    expect(page.locator("table.executions thead")).to_be_hidden()
    card = rows(page).first
    assert card.evaluate("tr => getComputedStyle(tr).display") == "flex"
    for cell in ("td.name", "td.phase-cell", "td.started", "td.duration"):
        expect(card.locator(cell)).to_be_visible()
    expect(card.locator("td[data-title='loss']")).to_be_visible()
    expect(card.locator("td[data-title='note']")).to_be_visible()
    box = card.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    # The filters fold behind their summary and open on a tap.
    filters = page.locator("details.filter-panel")
    toggle = filters.locator("summary.filters-toggle")
    expect(toggle).to_be_visible()
    expect(page.locator("#q")).to_be_hidden()
    toggle.click()
    expect(filters).to_have_attribute("open", "")
    expect(page.locator("#q")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    assert errors == []


@pytest.mark.parametrize("group_by", ["experiment", "experiment,group"])
def test_a_phone_shows_the_grouped_list_without_sideways_scrolling(
    new_page, project, editor, long_run, group_by
):
    page = new_page(editor)
    page.set_viewport_size(PHONE)
    errors = watch_errors(page)
    page.goto(f"/p/{project.slug}/?group_by={group_by}")
    groups = page.locator("details.group:not(.sub) > summary")
    expect(groups).to_have_count(2)
    assert page_width(page) <= PHONE["width"]
    groups.first.click()
    if group_by == "experiment,group":
        page.locator("details.group.sub > summary").first.click()
    opened = page.locator("details.group[open] tr.execution")
    expect(opened.first).to_be_visible()
    expect(page.locator("details.group[open] table.executions thead").first).to_be_hidden()
    assert page_width(page) <= PHONE["width"]
    assert errors == []


# --- 5. Loading feedback during a slowed request ---------------------------------------------

SLOW_SECONDS = 1.5


def test_the_loading_indicator_shows_within_100_ms_and_the_old_rows_stay(
    new_page, project, editor, runs
):
    page = new_page(editor)
    errors = watch_errors(page)
    page.goto(f"/p/{project.slug}/")
    expect(rows(page)).to_have_count(6)
    old_ids = rows(page).evaluate_all("trs => trs.map(tr => tr.dataset.id)")

    held = []

    def hold_the_next_list_request(route):
        if route.request.headers.get("hx-request") and not held:
            held.append(route)  # fulfilled below, SLOW_SECONDS later
        else:
            route.continue_()

    page.route(re.compile(rf"/p/{project.slug}/\?"), hold_the_next_list_request)
    # When the listing turns busy, measured in the page from the click.
    page.evaluate(
        """() => {
        window.__busy = {};
        document.addEventListener("click", () => { window.__busy.click = performance.now(); },
                                  {capture: true, once: true});
        const listing = document.getElementById("listing");
        new MutationObserver(() => {
            if (listing.classList.contains("htmx-request") && !window.__busy.at)
                window.__busy.at = performance.now();
        }).observe(listing, {attributes: true, attributeFilter: ["class"]});
    }"""
    )
    rows(page).locator("a.chip", has_text="team:cv").first.click()
    listing = page.locator("#listing").first
    expect(listing).to_have_class(re.compile(r"\bhtmx-request\b"), timeout=100)
    expect(page.locator(".progress").first).to_be_visible()
    busy = page.evaluate("() => window.__busy")
    assert busy.get("at") is not None and busy["at"] - busy["click"] <= 100, busy

    # The request waits; the old rows stay (dimmed) meanwhile.
    deadline = time.monotonic() + SLOW_SECONDS
    while time.monotonic() < deadline:
        assert rows(page).evaluate_all("trs => trs.map(tr => tr.dataset.id)") == old_ids
        expect(listing).to_have_class(re.compile(r"\bhtmx-request\b"))
        page.wait_for_timeout(250)
    assert len(held) == 1
    assert (
        listing.evaluate("el => getComputedStyle(el.querySelector('.table-wrap')).opacity") != "1"
    )
    held[0].continue_()

    expect(rows(page)).to_have_count(2)
    expect(rows(page).locator("td.name > a")).to_have_text(["run e", "run c"])
    expect(page.locator(".listing.htmx-request")).to_have_count(0)
    expect(page.locator(".progress").first).to_be_hidden()
    assert errors == []


def test_the_filter_form_keeps_the_page_size_of_the_url(new_page, project, editor, runs):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/?limit=2")
    expect(rows(page)).to_have_count(2)
    page.locator("#q").fill("team:nlp")
    page.locator("#q").press("Enter")
    page.wait_for_url(lambda url: query_of(url).get("q") == ["team:nlp"])
    expect(page.locator(".summary .total")).to_have_attribute("data-total", "4")
    assert query_of(page.url).get("limit") == ["2"]
    expect(rows(page)).to_have_count(2)


def test_an_htmx_update_replaces_the_listing_instead_of_nesting_it(new_page, project, editor, runs):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    rows(page).locator("a.chip", has_text="team:cv").first.click()
    expect(rows(page)).to_have_count(2)
    # One #listing, as on a page loaded whole: not the new one inside the old one.
    expect(page.locator("[id=listing]")).to_have_count(1)
    expect(page.locator(".listing .listing")).to_have_count(0)


def test_the_comfortable_toggle_wraps_rows_after_an_htmx_update(new_page, project, editor, runs):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    cell = rows(page).first.locator("td.labels")
    assert cell.evaluate("td => getComputedStyle(td).whiteSpace") == "nowrap"
    page.get_by_role("link", name="Comfortable rows").click()
    page.wait_for_url(lambda url: query_of(url).get("density") == ["comfortable"])
    # The toggle now offers the way back.
    expect(page.get_by_role("link", name="Compact rows")).to_be_visible()
    # The ids hidden in compact rows show again, as on the same URL loaded whole.
    expect(rows(page).first.locator(".id")).to_be_visible()
    page.reload()
    expect(rows(page).first.locator(".id")).to_be_visible()


# --- 6. Compact rows: at least 20 fully visible at 1400x900 -----------------------------------


def test_at_least_20_compact_rows_are_fully_visible_at_1400_by_900(new_page, project, editor):
    for i in range(32):
        labels = {f"key{k:02d}": f"value-{i}-{k}" for k in range(14)}
        make_execution(project, labels={"name": f"run {i:02d}", **labels})
    page = new_page(editor)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"/p/{project.slug}/")
    expect(rows(page)).to_have_count(32)
    visible = rows(page).evaluate_all(
        """trs => {
        const wrap = document.querySelector(".table-wrap").getBoundingClientRect();
        const head = document.querySelector("table.executions thead").getBoundingClientRect();
        const top = Math.max(0, wrap.top, head.bottom);
        const bottom = Math.min(window.innerHeight, wrap.bottom);
        return trs.filter(tr => {
            const r = tr.getBoundingClientRect();
            return r.top >= top - 0.5 && r.bottom <= bottom + 0.5 && r.height > 0;
        }).length;
    }"""
    )
    assert visible >= 20, f"{visible} rows fully visible"
    heights = rows(page).evaluate_all("trs => trs.map(tr => tr.getBoundingClientRect().height)")
    assert max(heights) < 2 * min(heights), heights  # one line per row


# --- 7. axe-core: WCAG 2 A/AA ------------------------------------------------------------------


def open_groups(page, nested: bool) -> None:
    page.locator("details.group:not(.sub) > summary").first.click()
    if nested:
        page.locator("details.group.sub > summary").first.click()
    expect(page.locator("details.group[open] tr.execution").first).to_be_visible()


@pytest.mark.parametrize(
    "view",
    ["list", "grouped by experiment", "grouped by experiment,group", "columns menu open"],
)
def test_the_list_passes_axe(new_page, project, editor, runs, axe, view):
    page = new_page(editor)
    columns = f"?columns={BASE},label.model,meta.loss,input.lr"
    path = {
        "list": columns,
        "grouped by experiment": "?group_by=experiment",
        "grouped by experiment,group": "?group_by=experiment,group",
        "columns menu open": "",
    }[view]
    page.goto(f"/p/{project.slug}/{path}")
    if view.startswith("grouped"):
        open_groups(page, nested=view.endswith("group"))
    if view == "columns menu open":
        page.locator("details.columns-menu > summary").click()
        expect(page.locator("#column-options option").first).to_be_attached()
        expect(page.locator(".columns-form")).to_be_visible()
    violations = axe(page)
    assert not violations, "\n".join(violations)


def test_the_list_after_an_htmx_update_passes_axe(new_page, project, editor, runs, axe):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    rows(page).locator("a.chip", has_text="team:cv").first.click()
    expect(rows(page)).to_have_count(2)
    violations = axe(page)
    assert not violations, "\n".join(violations)


def test_the_compare_page_passes_axe(new_page, project, editor, runs, axe):
    page = new_page(editor)
    ids = "&".join(f"ids={run.pk}" for run in runs[:3])
    page.goto(f"/p/{project.slug}/compare/?{ids}")
    expect(page.locator("th.compare-exec")).to_have_count(3)
    violations = axe(page)
    assert not violations, "\n".join(violations)


def test_the_bulk_labels_preview_passes_axe(new_page, project, editor, runs, axe):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/bulk-labels/?q=team:nlp")
    page.get_by_label("Add labels").fill("reviewed:yes")
    page.get_by_label("Remove keys").fill("group")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".bulk-preview")).to_contain_text("This will change")
    violations = axe(page)
    assert not violations, "\n".join(violations)
