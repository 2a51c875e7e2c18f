// The lineage page's behaviour. Every text from the catalog reaches the page
// through textContent or an attribute set from script, never parsed as HTML.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("lineage-data").textContent);
  const entities = data.nodes;
  const indexOf = new Map(entities.map((entity, i) => [entity.id, i]));
  const kindStyle = new Map(data.kinds.map((kind) => [kind.key, kind]));
  const relationStyle = new Map(data.relations.map((relation) => [relation.key, relation]));
  // Past this size the page drops edge labels and redraw-heavy extras to stay fast.
  const big = entities.length > 2000;
  const DIM = "#e3e6ea";
  const ARROW_SCALE = 1; // zoom from which a big graph draws arrow heads
  const OPENING_SCALE = 0.8; // a big graph opens at this zoom, where labels are readable
  const $ = (id) => document.getElementById(id);

  const FONT = data.font; // label size in pixels at zoom 1
  const FONT_FACE = "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'Noto Sans CJK SC', sans-serif";
  const READABLE = 11.5 / FONT; // the least zoom at which labels are at least 11 px: selections never frame below it
  const LABEL_GAP = data.labelGap;
  const LINE = Math.round(FONT * 1.25); // a label's line box
  const LEAD_IN = 20; // the level stretch every lineage edge ends with, before its arrow head
  const isLineage = entities.map((entity) => kindStyle.get(entity.legend).lineage);
  const MONTH_WIDTH = 60; // pixels per month on the time axis
  // A release date ("2023", "2023-03" or "2023-03-13") as a month number with a fraction; a year alone sits mid-year.
  function monthOf(released) {
    const found = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(released || "");
    if (!found) return null;
    const [, year, month, day] = found;
    return Number(year) * 12 + (month ? Number(month) - 1 + (day ? (Number(day) - 1) / 31 : 0.5) : 6);
  }

  // Families folded: the first view draws each family as its series (LLaMA for its four
  // sizes), with the members' edges moved onto it. The folded view's edges follow the
  // graph's own in data.edges, so an edge keeps one index whichever view is drawn.
  const graphEdges = data.edges.length;
  const folding = data.fold || { members: {}, xy: {}, edges: [], routes: {} };
  const seriesOf = new Map(Object.entries(folding.members).map(([member, series]) => [Number(member), series]));
  const familySize = new Map();
  seriesOf.forEach((series) => familySize.set(series, (familySize.get(series) || 0) + 1));
  folding.edges.forEach((row, k) => {
    data.edges.push(row);
    if (folding.routes[k]) data.routes[graphEdges + k] = folding.routes[k];
  });
  // With some families opened in the folded view, the members of the others are still drawn
  // as their series: their edges, moved onto the series, follow from here (rebuilt as families open).
  const partialStart = data.edges.length;
  const homes = {
    full: entities.map((entity) => [entity.x, entity.y]),
    folded: entities.map((entity, i) => folding.xy[i] || [entity.x, entity.y]),
  };
  // A member drawn as its series: families folded, and not its family opened alone.
  const folds = (i) => state.folded && seriesOf.has(i) && !state.open.has(seriesOf.get(i));
  // Whether edge e belongs to the view drawn: the graph's own edges when families are open, the
  // folded view's when all are folded, and with some opened the graph's between what is drawn
  // plus the others moved onto their series. Families opened alone keep the full layout's places.
  function inView(e) {
    if (!state.folded) return e < graphEdges;
    if (!state.open.size) return e >= graphEdges && e < partialStart;
    if (e >= partialStart) return true;
    return e < graphEdges && !folds(data.edges[e][0]) && !folds(data.edges[e][1]);
  }

  // Adjacency of what is drawn: `up` toward sources, `down` toward what was made from
  // them; `links` of the graph itself, for the panel and the table.
  const up = entities.map(() => []);
  const down = entities.map(() => []);
  const touching = entities.map(() => []);
  const links = entities.map(() => []);
  function connect() {
    [up, down, touching].forEach((lists) => lists.forEach((list) => (list.length = 0)));
    data.edges.forEach(([from, to, relation], e) => {
      if (!inView(e)) return;
      if (relationStyle.get(relation).lineage) {
        up[from].push(to);
        down[to].push(from);
      }
      touching[from].push(e);
      touching[to].push(e);
    });
  }
  data.edges.forEach(([from, to], e) => {
    if (e >= graphEdges) return;
    links[from].push(e);
    links[to].push(e);
  });

  const state = {
    selected: null,
    // The family tree first: makers, software and methods show around the selected entity.
    kinds: new Set(data.kinds.filter((kind) => kind.lineage).map((kind) => kind.key)),
    relations: new Set(data.relations.filter((r) => r.lineage).map((r) => r.key)),
    organization: "",
    // Facets of models and datasets; "" is any. An entity without the fact does not match a chosen value.
    facets: { commercial: "", "open-weights": "", language: "" },
    physics: false,
    timeAxis: false,
    dates: { from: null, to: null }, // months (year * 12 + month - 1), both ends included

    folded: seriesOf.size > 0, // families drawn as their series
    open: new Set(), // series opened alone while the others stay folded
    moved: false, // a node was dragged or physics ran: edges are drawn straight from where nodes are now
    arrows: !big,
  };

  const defaults = { kinds: new Set(state.kinds), relations: new Set(state.relations) };
  connect();
  const placeNodes = () => entities.forEach((entity, i) => ([entity.x, entity.y] = homes[state.folded && !state.open.size ? "folded" : "full"][i]));
  placeNodes();
  const shownNode = (i) => state.kinds.has(entities[i].legend) && !folds(i);

  // What the first drawing shows, set on the data itself so that no update follows it.
  function shownAtFirst(from, to, relation, e) {
    return inView(e) && state.relations.has(relation) && shownNode(from) && shownNode(to);
  }

  function nodeLook(entity, dimmed) {
    const color = dimmed ? DIM : kindStyle.get(entity.legend).color;
    return { color: { background: color, border: dimmed ? DIM : "#ffffff", highlight: { background: color, border: "#111111" } } };
  }

  // Labels are drawn by the page, beside each node (vis-network puts them under it),
  // so their widths are measured once here.
  const labelText = entities.map((entity) => entity.label || entity.name);
  const measure = document.createElement("canvas").getContext("2d");
  measure.font = `${FONT}px ${FONT_FACE}`;
  const widthCache = new Map();
  const labelWidth = labelText.map((text) => {
    if (!widthCache.has(text)) widthCache.set(text, measure.measureText(text).width);
    return widthCache.get(text);
  });

  // vis-network draws the shapes, pans, zooms and runs physics; edges and labels are
  // drawn by the page on its canvas, from the routes computed in Python. vis-network
  // gets the edges only while physics runs (as invisible springs).
  const nodes = new vis.DataSet(
    entities.map((entity) => ({ id: entity.id, x: entity.x, y: entity.y, size: entity.size, group: entity.legend, hidden: !shownNode(indexOf.get(entity.id)) })),
  );
  const edges = new vis.DataSet(
    data.edges.map(([from, to, relation], e) => ({ id: e, from: entities[from].id, to: entities[to].id, hidden: !shownAtFirst(from, to, relation, e) })),
  );
  const groups = Object.fromEntries(
    data.kinds.map((kind) => [kind.key, Object.assign({ shape: kind.shape }, nodeLook({ legend: kind.key }, false))]),
  );

  // The network is given views of the data holding only what is shown: vis-network
  // builds an object for every item it is given, hidden or not.
  const nodeView = new vis.DataView(nodes, { filter: (item) => !item.hidden });
  const edgeView = new vis.DataView(edges, { filter: (item) => state.physics && !item.hidden });
  const network = new vis.Network(
    $("graph"),
    { nodes: nodeView, edges: edgeView },
    {
      autoResize: true,
      physics: { enabled: false, solver: "forceAtlas2Based", stabilization: false },
      layout: { improvedLayout: false, hierarchical: false },
      groups,
      interaction: { hover: !big, tooltipDelay: 3600000, keyboard: false },
      nodes: { borderWidth: 1 },
      edges: { smooth: false, color: { opacity: 0 }, arrows: { to: { enabled: false } }, chosen: false },
    },
  );
  const body = network.body.nodes;

  // ---- geometry: where each node, label and edge is drawn, in canvas coordinates ----
  function position(i) {
    if (state.moved) {
      const drawn = body[entities[i].id];
      if (drawn) return [drawn.x, drawn.y];
    }
    return [entities[i].x, entities[i].y];
  }

  function labelBox(i) {
    const [x, y] = position(i);
    const left = x + entities[i].size + LABEL_GAP;
    return { left, right: left + labelWidth[i], top: y - LINE / 2, bottom: y + LINE / 2 };
  }

  function laidOut(i) {
    if (state.timeAxis) return false;
    if (!state.moved) return true;
    const drawn = body[entities[i].id];
    return !drawn || (drawn.x === entities[i].x && drawn.y === entities[i].y);
  }

  // A lineage edge runs from the end of its source's label to the left of what was made
  // from it, through its bends, so arrow heads land one per entity instead of piling on hubs.
  function edgePoints(e) {
    const [from, to, relation] = data.edges[e];
    const [fx, fy] = position(from);
    const [tx, ty] = position(to);
    if (relationStyle.get(relation).lineage && isLineage[from] && isLineage[to] && laidOut(from) && laidOut(to)) {
      const route = data.routes[e];
      const end = [fx - entities[from].size - 2, fy];
      if (route && route[0][0] < tx) return [[tx - entities[to].size - 2, ty], ...route, end]; // a loop inside one generation
      const start = [Math.min(labelBox(to).right + 4, route ? route[0][0] : Infinity), ty];
      // The last stretch comes in level over a short lead, so a steep run between far-apart rows
      // never grazes the entity's neighbours in its column.
      const points = route ? [start, ...route] : [start];
      const lead = [end[0] - LEAD_IN, fy];
      if (points[points.length - 1][0] < lead[0]) points.push(lead);
      if (route || start[0] < end[0]) return [...points, end];
    }
    // Other edges point from the entity to what it names (developer, method...), centre to edge.
    const length = Math.hypot(tx - fx, ty - fy) || 1;
    const cut = entities[to].size + 2;
    return [[fx, fy], [tx - ((tx - fx) * cut) / length, ty - ((ty - fy) * cut) / length]];
  }

  function viewBox(margin) {
    const scale = network.getScale();
    const centre = network.getViewPosition();
    const halfWidth = ($("graph").clientWidth / 2 + margin) / scale, halfHeight = ($("graph").clientHeight / 2 + margin) / scale;
    return { left: centre.x - halfWidth, right: centre.x + halfWidth, top: centre.y - halfHeight, bottom: centre.y + halfHeight };
  }

  function inBox(box, x, y, pad) {
    return x >= box.left - pad && x <= box.right + pad && y >= box.top - pad && y <= box.bottom + pad;
  }

  // ---- drawing: edges under the shapes, labels over them ----
  let dimmedNodes = new Set();
  let dimmedEdges = new Set();
  let labelledEdges = new Set();
  let hiddenNodes = new Set(entities.map((_, i) => i).filter((i) => !shownNode(i)));
  let hiddenEdges = new Set(data.edges.map((_, e) => e).filter((e) => !shownAtFirst(...data.edges[e].slice(0, 3), e)));

  let filteredOut = new Set(entities.map((_, i) => i).filter((i) => !state.kinds.has(entities[i].legend))); // hidden by the filters (the table lists folded members, the graph draws their series)

  function drawnEdges() {
    const found = [];
    data.edges.forEach((_, e) => {
      if (!hiddenEdges.has(e)) found.push(e);
    });
    return found;
  }

  network.on("beforeDrawing", (ctx) => {
    const scale = network.getScale();
    const batches = new Map(); // one path per look: far faster than a stroke per edge
    for (const e of drawnEdges()) {
      const relation = data.edges[e][2];
      const key = dimmedEdges.has(e) ? `dim ${relation}` : relation;
      if (!batches.has(key)) batches.set(key, []);
      batches.get(key).push(e);
    }
    ctx.lineJoin = "round";
    for (const [key, list] of batches) {
      const dimmed = key.startsWith("dim ");
      const style = relationStyle.get(dimmed ? key.slice(4) : key);
      const color = dimmed ? DIM : style.color;
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.lineWidth = 1.6 / Math.min(1, scale);
      ctx.setLineDash(style.dashes ? style.dashes.map((d) => d / Math.min(1, scale)) : []);
      ctx.beginPath();
      const heads = [];
      for (const e of list) {
        const points = edgePoints(e);
        ctx.moveTo(points[0][0], points[0][1]);
        for (let k = 1; k < points.length; k++) ctx.lineTo(points[k][0], points[k][1]);
        heads.push(points);
      }
      ctx.stroke();
      ctx.setLineDash([]);
      if (state.arrows) {
        const head = 7 / Math.min(1, scale);
        ctx.beginPath();
        for (const points of heads) {
          const [x, y] = points[points.length - 1];
          const [px, py] = points[points.length - 2];
          const length = Math.hypot(x - px, y - py) || 1;
          const ux = (x - px) / length, uy = (y - py) / length;
          ctx.moveTo(x, y);
          ctx.lineTo(x - ux * head - uy * head * 0.45, y - uy * head + ux * head * 0.45);
          ctx.lineTo(x - ux * head + uy * head * 0.45, y - uy * head - ux * head * 0.45);
          ctx.closePath();
        }
        ctx.fill();
      }
    }
  });

  function drawnNodes(margin) {
    const view = viewBox(margin);
    const found = [];
    entities.forEach((entity, i) => {
      if (hiddenNodes.has(i)) return;
      const [x, y] = position(i);
      if (x + entity.size + LABEL_GAP + labelWidth[i] >= view.left && x - entity.size <= view.right && y >= view.top - LINE && y <= view.bottom + LINE) found.push(i);
    });
    return found;
  }

  network.on("afterDrawing", (ctx) => {
    const scale = network.getScale();
    if (FONT * scale < 3) return; // too small to read: not drawn
    ctx.font = `${FONT}px ${FONT_FACE}`;
    ctx.textBaseline = "middle";
    ctx.lineJoin = "round";
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#fafbfc";
    for (const i of drawnNodes(40)) {
      const box = labelBox(i);
      ctx.strokeText(labelText[i], box.left, (box.top + box.bottom) / 2);
      ctx.fillStyle = dimmedNodes.has(i) ? "#b7bdc5" : "#1d232b";
      ctx.fillText(labelText[i], box.left, (box.top + box.bottom) / 2);
    }
    // The relation on each lit edge of a selection, where it covers no label, shape or other
    // relation: tried along the edge from its arrow head back; an edge with no free place goes
    // unlabelled (the panel lists every relation), so labels never stack into a smear.
    ctx.font = `${Math.round(FONT * 0.8)}px ${FONT_FACE}`;
    ctx.textAlign = "center";
    edgeLabels = placeEdgeLabels(ctx);
    for (const { text, x, y } of edgeLabels) {
      ctx.strokeText(text, x, y);
      ctx.fillStyle = "#5b6573";
      ctx.fillText(text, x, y);
    }
    ctx.textAlign = "start";
  });

  let edgeLabels = []; // the relation labels drawn last, for layout()
  function placeEdgeLabels(ctx) {
    if (!labelledEdges.size) return [];
    const height = FONT * 0.8 * 1.2;
    const taken = drawnNodes(40).flatMap((i) => {
      const [x, y] = position(i);
      const size = entities[i].size;
      return [labelBox(i), { left: x - size, right: x + size, top: y - size, bottom: y + size }];
    });
    const overlaps = (box) => taken.some((t) => box.left < t.right && box.right > t.left && box.top < t.bottom && box.bottom > t.top);
    const placed = [];
    for (const e of labelledEdges) {
      if (hiddenEdges.has(e)) continue;
      const text = relationStyle.get(data.edges[e][2]).label;
      const width = ctx.measureText(text).width;
      const points = edgePoints(e);
      search: for (let k = points.length - 1; k > 0; k--) {
        const [ax, ay] = points[k - 1], [bx, by] = points[k];
        for (const t of [0.5, 0.3, 0.7, 0.15, 0.85]) {
          const x = ax + (bx - ax) * t, y = ay + (by - ay) * t - 7;
          const box = { left: x - width / 2 - 2, right: x + width / 2 + 2, top: y - height / 2, bottom: y + height / 2 };
          if (overlaps(box)) continue;
          taken.push(box);
          placed.push({ edge: e, text, x, y, box });
          break search;
        }
      }
    }
    return placed;
  }

  // ---- what is drawn, in screen pixels, for tests and tools ----
  function toScreen(x, y) {
    const rect = $("graph").getBoundingClientRect();
    const point = network.canvasToDOM({ x, y });
    return [rect.left + point.x, rect.top + point.y];
  }

  function screenBox(box) {
    const [left, top] = toScreen(box.left, box.top);
    const [right, bottom] = toScreen(box.right, box.bottom);
    return { left, top, right, bottom };
  }

  function layout() {
    const scale = network.getScale();
    const rect = $("graph").getBoundingClientRect();
    const labelsDrawn = FONT * scale >= 3;
    return {
      scale,
      fontPx: FONT * scale,
      arrows: state.arrows,
      view: { left: rect.left, top: rect.top, right: rect.right, bottom: rect.bottom },
      nodes: drawnNodes(0).map((i) => {
        const [x, y] = position(i);
        const size = entities[i].size;
        return {
          id: entities[i].id,
          shape: screenBox({ left: x - size, right: x + size, top: y - size, bottom: y + size }),
          label: labelsDrawn ? Object.assign(screenBox(labelBox(i)), { text: labelText[i] }) : null,
        };
      }),
      edgeLabels: labelsDrawn ? edgeLabels.map(({ edge, text, box }) => Object.assign(screenBox(box), { edge, text })) : [],
      edges: drawnEdges().map((e) => ({
        id: e,
        from: entities[data.edges[e][0]].id,
        to: entities[data.edges[e][1]].id,
        relation: data.edges[e][2],
        points: edgePoints(e).map(([x, y]) => toScreen(x, y)),
      })),
    };
  }

  network.once("afterDrawing", () => {
    window.lineageReadyAt = performance.now();
    window.lineageReady = true;
    document.body.dataset.ready = "true";
  });

  // ---- small DOM helpers: text only ----
  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function isWebUrl(url) {
    return typeof url === "string" && /^https?:\/\/[^\s]+$/i.test(url);
  }

  function link(url, text) {
    if (!isWebUrl(url)) return element("span", text || url);
    const anchor = element("a", text || url);
    anchor.href = url;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    return anchor;
  }

  function entityButton(index) {
    const button = element("button", entities[index].name, "entity");
    button.type = "button";
    button.title = entities[index].id;
    button.addEventListener("click", () => {
      if (!$("table-view").hidden) showTable(false);
      select(entities[index].id, true);
    });
    return button;
  }

  // ---- lineage highlight ----
  function reach(start, next) {
    const seen = new Set();
    const queue = [start];
    while (queue.length) {
      for (const other of next[queue.pop()]) {
        if (!seen.has(other) && other !== start) {
          seen.add(other);
          queue.push(other);
        }
      }
    }
    return seen;
  }

  function highlight(index) {
    const lineage = new Set([index, ...reach(index, up), ...reach(index, down)]);
    const lit = new Set(lineage);
    touching[index].forEach((e) => lit.add(data.edges[e][0]).add(data.edges[e][1]));
    const litEdges = new Set(touching[index]);
    data.edges.forEach(([from, to, relation], e) => {
      if (relationStyle.get(relation).lineage && lit.has(from) && lit.has(to)) litEdges.add(e);
    });
    const nextNodes = new Set(entities.map((_, i) => i).filter((i) => !lit.has(i)));
    const nextEdges = new Set(data.edges.map((_, e) => e).filter((e) => !litEdges.has(e)));
    restyle(nextNodes, nextEdges, litEdges);
    return lineage;
  }

  // Update only what changed: on 20,000 nodes a full update is noticeable.
  function restyle(nextNodes, nextEdges, nextLabelled) {
    const nodeChanges = [];
    entities.forEach((entity, i) => {
      if (nextNodes.has(i) !== dimmedNodes.has(i)) nodeChanges.push(Object.assign({ id: entity.id }, nodeLook(entity, nextNodes.has(i))));
    });
    dimmedNodes = nextNodes;
    dimmedEdges = nextEdges;
    labelledEdges = big ? new Set() : nextLabelled;
    nodes.update(nodeChanges);
    network.redraw();
  }

  // ---- filters: kind, relation, organization ----

  // Filters by maker, licence, language or date are about single entities: they open the families.
  function filtersOpenFamilies() {
    return Boolean(state.organization) || Object.values(state.facets).some(Boolean) || state.dates.from !== null || state.dates.to !== null;
  }

  function applyFilters() {
    if (state.folded && filtersOpenFamilies()) return setFolded(false);
    const org = state.organization === "" ? -1 : indexOf.get(state.organization);
    // An organization's view: what it made, and everything that was made from (what it built on).
    const made = org < 0 ? [] : touching[org].flatMap((e) => data.edges[e].slice(0, 2)).filter((i) => i !== org);
    const orgNeighbours = new Set(made.flatMap((i) => [i, ...reach(i, up)]));
    const selected = state.selected === null ? -1 : state.selected;
    const around = new Set(selected < 0 ? [] : [selected, ...touching[selected].flatMap((e) => data.edges[e].slice(0, 2))]);
    const nextNodes = new Set();
    filteredOut = new Set();
    entities.forEach((entity, i) => {
      const shown = (org < 0 ? state.kinds.has(entity.legend) : i === org || (orgNeighbours.has(i) && state.kinds.has(entity.legend))) && (!isLineage[i] || matchesFacets(entity));
      if (!shown && !around.has(i)) filteredOut.add(i);
    });
    filteredOut.forEach((i) => nextNodes.add(i));
    seriesOf.forEach((_, i) => folds(i) && nextNodes.add(i));
    const nextEdges = new Set();
    data.edges.forEach(([from, to, relation], e) => {
      const wanted = inView(e) && (state.relations.has(relation) || from === selected || to === selected);
      if (!wanted || nextNodes.has(from) || nextNodes.has(to)) nextEdges.add(e);
    });
    const nodeChanges = [];
    entities.forEach((entity, i) => {
      if (nextNodes.has(i) !== hiddenNodes.has(i)) nodeChanges.push({ id: entity.id, hidden: nextNodes.has(i) });
    });
    const edgeChanges = [];
    data.edges.forEach((_, e) => {
      if (nextEdges.has(e) !== hiddenEdges.has(e)) edgeChanges.push({ id: e, hidden: nextEdges.has(e) });
    });
    hiddenNodes = nextNodes;
    hiddenEdges = nextEdges;
    nodes.update(nodeChanges);
    edges.update(edgeChanges);
    network.redraw();
    if (!$("table-view").hidden) drawTable();
    const folded = state.folded ? `, ${familySize.size} families folded` : "";
    $("counts").textContent = `${entities.length - hiddenNodes.size} of ${entities.length} entities, ${data.edges.length - hiddenEdges.size} links shown${folded}`;
    showFilterNote();
    if (shownKey() !== compactKey && (compactKey || packing())) restoreLayout(); // filtered anew: laid out again
  }

  // Frame `indices` with their labels: whole if that leaves labels readable, else from
  // the top left (or around `keep`) at the least readable zoom.
  let pendingFrame = null; // asked for while the table hid the graph: done when the graph comes back
  function frame(indices, keep, whole, near) {
    if ($("graph").hidden) pendingFrame = [indices, keep, whole, near];
    if (!indices.length || $("graph").hidden) return;
    const box = { left: Infinity, right: -Infinity, top: Infinity, bottom: -Infinity };
    for (const i of indices) {
      const [x, y] = position(i);
      const size = entities[i].size;
      box.left = Math.min(box.left, x - size);
      box.right = Math.max(box.right, labelBox(i).right);
      box.top = Math.min(box.top, y - Math.max(size, LINE / 2));
      box.bottom = Math.max(box.bottom, y + Math.max(size, LINE / 2));
    }
    const pad = 24;
    // On a narrow screen the panel is a sheet over the bottom of the graph: frame what stays visible.
    const panel = $("panel");
    const covered = !panel.hidden && getComputedStyle(panel).position === "absolute" ? panel.offsetHeight : 0;
    const width = $("graph").clientWidth - 2 * pad, height = $("graph").clientHeight - covered - 2 * pad;
    const fit = Math.min(width / (box.right - box.left || 1), height / (box.bottom - box.top || 1), 1.6);
    if (whole || fit >= READABLE) {
      network.moveTo({ position: { x: (box.left + box.right) / 2, y: (box.top + box.bottom) / 2 + covered / 2 / fit }, scale: fit, animation: false });
      return;
    }
    // As much as can be read at once: the least readable zoom, from the top left, or, around a
    // kept entity, where the most of what is one step from it shows (what was made from it
    // counting three times: lineage reads left to right, and the panel lists the sources first).
    const scale = READABLE;
    const halfWidth = width / 2 / scale, halfHeight = height / 2 / scale;
    let x = box.left + halfWidth, y = box.top + halfHeight;
    if (keep !== undefined) {
      const [kx, ky] = position(keep);
      // Keep the entity and its label inside the view.
      const clampX = (cx) => Math.min(Math.max(cx, kx + labelWidth[keep] + 30 - halfWidth), kx - entities[keep].size - 10 + halfWidth);
      const clampY = (cy) => Math.min(Math.max(cy, ky + 30 - halfHeight), ky - 30 + halfHeight);
      const weight = (i) => (up[i] && up[i].includes(keep) ? 3 : 1);
      const seen = (cx, cy) => (near || []).reduce((sum, i) => {
        const [nx, ny] = position(i);
        const inside = nx - entities[i].size >= cx - halfWidth && labelBox(i).right <= cx + halfWidth && Math.abs(ny - cy) <= halfHeight - LINE;
        return sum + (inside ? weight(i) : 0);
      }, 0);
      const around = (near || []).flatMap((i) => {
        const [nx, ny] = position(i);
        return [[nx, ny], [(nx + kx) / 2, (ny + ky) / 2]];
      });
      const candidates = [[x, y], [kx, ky], ...around].map(([cx, cy]) => [clampX(cx), clampY(cy)]);
      [x, y] = candidates.reduce((best, c) => (seen(...c) > seen(...best) ? c : best));
      // What was made from it too far right to show with it (a phone): the entity a quarter of
      // the way in, its edges toward them in view.
      const made = (near || []).filter((i) => weight(i) > 1);
      const madeSeen = made.some((i) => {
        const [nx, ny] = position(i);
        return nx - entities[i].size >= x - halfWidth && nx + entities[i].size <= x + halfWidth && Math.abs(ny - y) <= halfHeight;
      });
      if (made.length && !madeSeen) x = clampX(kx + halfWidth / 2);
    }
    network.moveTo({ position: { x, y: y + covered / 2 / scale }, scale, animation: false });
  }

  function matchesFacets(entity) {
    if (state.dates.from !== null || state.dates.to !== null) {
      const month = monthOf(entity.released);
      if (month === null) return false;
      if (state.dates.from !== null && month < state.dates.from) return false;
      if (state.dates.to !== null && month >= state.dates.to + 1) return false;
    }
    const { commercial, language } = state.facets;
    // commercial_use: true, false or absent (not known, matching neither choice).
    if (commercial && entity.commercial_use !== (commercial === "yes")) return false;
    const open = state.facets["open-weights"];
    if (open && entity.open_weights !== (open === "yes")) return false;
    return !language || (entity.languages || []).includes(language);
  }

  function fitVisible(whole) {
    frame(entities.map((_, i) => i).filter((i) => !hiddenNodes.has(i)), undefined, whole);
  }

  // ---- selection and the side panel ----
  // Families open (every entity in its own place) or folded into their series, as at first.
  function setFolded(on) {
    if ((on === state.folded && !state.open.size) || !seriesOf.size) return;
    // A selected member is not drawn once folded: the selection goes.
    if (on && state.selected !== null && seriesOf.has(state.selected)) clearSelection();
    state.folded = on;
    state.open.clear();
    $("fold").checked = on;
    redrawFamilies();
  }

  // Opens one family in the folded view (its members in their own places, the rest still
  // folded), or folds it again.
  function openFamily(series, on) {
    if (!state.folded || !familySize.has(series) || on === state.open.has(series)) return;
    if (!on && state.selected !== null && seriesOf.get(state.selected) === series) clearSelection();
    if (on) state.open.add(series);
    else state.open.delete(series);
    redrawFamilies();
    if (state.selected !== null) showPanel(state.selected);
    writeHash();
  }

  function redrawFamilies() {
    rebuildPartialEdges();
    connect();
    placeNodes();
    applyFilters();
    if (state.timeAxis) setTimeAxis(true);
    else restoreLayout();
  }

  function rebuildPartialEdges() {
    const stale = data.edges.map((_, e) => e).filter((e) => e >= partialStart);
    edges.remove(stale);
    stale.forEach((e) => [hiddenEdges, dimmedEdges, labelledEdges].forEach((set) => set.delete(e)));
    data.edges.length = partialStart;
    if (!state.folded || !state.open.size) return;
    const seen = new Set();
    for (let e = 0; e < graphEdges; e++) {
      const [from, to, relation, ...rest] = data.edges[e];
      const [f, t] = [folds(from) ? seriesOf.get(from) : from, folds(to) ? seriesOf.get(to) : to];
      const key = `${f} ${t} ${relation}`;
      if ((f === from && t === to) || f === t || seen.has(key)) continue;
      seen.add(key);
      hiddenEdges.add(data.edges.length);
      data.edges.push([f, t, relation, ...rest]);
    }
    edges.add(data.edges.slice(partialStart).map(([from, to], k) => ({ id: partialStart + k, from: entities[from].id, to: entities[to].id, hidden: true })));
  }

  // The series a family member or a series stands for, else null.
  function familyOf(index) {
    return seriesOf.has(index) ? seriesOf.get(index) : familySize.has(index) ? index : null;
  }

  function select(id, moveTo) {
    const index = indexOf.get(id);
    if (index === undefined) return;
    // A folded family opens, alone, when it or one of its members is picked.
    if (familyOf(index) !== null) openFamily(familyOf(index), true);
    state.selected = index;
    applyFilters();
    const lineage = highlight(index);
    network.selectNodes([id]);
    showPanel(index);
    // The whole lineage if it can be read at once, else as much of it as fits around the entity
    // and what is one step from it, so its descendants are in view, not beside it off screen.
    const near = [index, ...touching[index].flatMap((e) => data.edges[e].slice(0, 2))].filter((i) => lineage.has(i) && !hiddenNodes.has(i));
    if (moveTo) frame([...lineage].filter((i) => !hiddenNodes.has(i)), index, false, near);
    document.body.dataset.selected = id;
    writeHash();
  }

  // The URL's #fragment records the view, so it can be shared and reloaded: the selection, the
  // menus' filters, families opened, the kinds and relations ticked when not the defaults, the
  // table view, the time axis and the date range: #select=model%2Fllama-7b&kinds=dataset,model&time=1.
  function writeHash() {
    const parts = [];
    if (state.selected !== null) parts.push(`select=${encodeURIComponent(entities[state.selected].id)}`);
    if (state.organization) parts.push(`organization=${encodeURIComponent(state.organization)}`);
    Object.entries(state.facets).forEach(([key, value]) => value && parts.push(`${key}=${encodeURIComponent(value)}`));
    if (!state.folded && seriesOf.size && !filtersOpenFamilies()) parts.push("families=open");
    const opened = [...state.open].filter((series) => state.selected === null || familyOf(state.selected) !== series);
    if (opened.length) parts.push(`open=${opened.map((i) => encodeURIComponent(entities[i].id)).join(",")}`);
    ["kinds", "relations"].forEach((key) => {
      const now = [...state[key]].sort();
      if (now.join() !== [...defaults[key]].sort().join()) parts.push(`${key}=${now.map(encodeURIComponent).join(",")}`);
    });
    if (!$("table-view").hidden) parts.push("view=table");
    if (state.timeAxis) parts.push("time=1");
    ["from", "to"].forEach((end) => $(`date-${end}`).value && parts.push(`${end}=${$(`date-${end}`).value}`));
    try {
      history.replaceState(null, "", parts.length ? `#${parts.join("&")}` : location.pathname + location.search);
    } catch (error) {
      // A sandboxed frame (the notebook view) may not change its URL: nothing to record then.
    }
  }

  function readHash() {
    const values = new Map(location.hash.replace(/^#/, "").split("&").filter(Boolean).map((part) => {
      const [key, ...rest] = part.split("=");
      return [key, decodeURIComponent(rest.join("="))];
    }));
    if (values.get("families") === "open") setFolded(false);
    (values.get("open") || "").split(",").map((id) => indexOf.get(id)).filter((i) => familySize.has(i)).forEach((i) => openFamily(i, true));
    ["kinds", "relations"].forEach((key) => {
      if (!values.has(key)) return;
      const known = new Set((key === "kinds" ? data.kinds : data.relations).map((item) => item.key));
      state[key] = new Set(values.get(key).split(",").filter((item) => known.has(item)));
      document.querySelectorAll(`#${key} input`).forEach((box) => (box.checked = state[key].has(box.value)));
      applyFilters();
    });
    if (values.has("organization") && indexOf.has(values.get("organization"))) {
      state.organization = values.get("organization");
      $("organization").value = state.organization;
      applyFilters();
    }
    let facets = false;
    Object.keys(state.facets).forEach((key) => {
      const value = values.get(key);
      if (value && [...$(key).options].some((option) => option.value === value)) {
        state.facets[key] = $(key).value = value;
        facets = true;
      }
    });
    ["from", "to"].forEach((end) => {
      if (/^\d{4}-\d{2}$/.test(values.get(end) || "")) {
        $(`date-${end}`).value = values.get(end);
        state.dates[end] = monthOf(values.get(end)) - 0.5;
        facets = true;
      }
    });
    if (facets) {
      applyFilters();
      fitVisible();
    }
    if (values.get("time") === "1") setTimeAxis(true);
    if (values.has("select")) select(values.get("select"), true);
    else if (data.focus) select(data.focus, true); // a --focus page opens on its focus
    if (values.get("view") === "table") showTable(true);
    writeHash();
  }

  // Back to the whole graph, keeping the view where it is (a click on the background).
  function clearSelection() {
    state.selected = null;
    state.edge = null;
    $("panel").hidden = true;
    $("panel").replaceChildren();
    network.setSize("100%", "100%");
    network.unselectAll();
    restyle(new Set(), new Set(), new Set());
    applyFilters();
    delete document.body.dataset.selected;
    writeHash();
  }

  // Back to the whole graph as first drawn: no selection, search or organization filter.
  function reset() {
    state.organization = "";
    $("organization").value = "";
    Object.keys(state.facets).forEach((key) => {
      state.facets[key] = $(key).value = "";
    });
    ["from", "to"].forEach((end) => {
      state.dates[end] = null;
      $(`date-${end}`).value = "";
    });
    $("search").value = "";
    showResults([]);
    clearSelection();
    fitVisible(true);
  }

  function formatCount(value) {
    if (value >= 1e9) return `${+(value / 1e9).toFixed(1)} billion`;
    if (value >= 1e6) return `${+(value / 1e6).toFixed(1)} million`;
    return value.toLocaleString("en");
  }

  function related(index, direction) {
    // [(relation label, other entity index)] for one side of an entity's edges.
    return links[index]
      .map((e) => data.edges[e])
      .filter((edge) => (direction === "out" ? edge[0] === index : edge[1] === index))
      .map((edge) => [edge, direction === "out" ? edge[1] : edge[0]]);
  }

  // What each primary source says the licence is, the governing one marked.
  function licenceStatements(entity) {
    if (!entity.license_statements || !entity.license_statements.length) return [];
    const list = element("ul", null, "statements");
    entity.license_statements.forEach((statement) => {
      const known = data.licenses[statement.license];
      const item = element("li", `${known ? known.name : statement.license} — ${statement.where}${statement.as_of ? `, ${statement.as_of}` : ""}`);
      if (statement.license === entity.license) item.append(element("strong", " (governs)"));
      item.append(element("br"), link(statement.source));
      if (statement.note) item.append(element("div", statement.note, "muted"));
      list.append(item);
    });
    const out = [element("h3", "Licence, as each source states it"), list];
    if (entity.license_basis) out.push(element("p", entity.license_basis, "muted"));
    return out;
  }

  // Distinct entities upstream (side 0: what it comes from) or downstream (1), along the graph's own
  // lineage edges without family membership, as `kg lineage` walks them.
  function lineageCount(index, side) {
    const seen = new Set([index]);
    const queue = [index];
    while (queue.length) {
      const current = queue.pop();
      for (const e of links[current]) {
        const [from, to, relation] = data.edges[e];
        if (relation === "family" || !relationStyle.get(relation).lineage) continue;
        const next = side === 0 ? (from === current ? to : null) : (to === current ? from : null);
        if (next !== null && !seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    return seen.size - 1;
  }

  // A path of ids as a chain of entities to click (an id not on the page stays as text).
  function entityChain(ids) {
    const chain = element("span", null, "chain");
    (ids || []).forEach((id, k) => {
      if (k) chain.append(" → ");
      chain.append(indexOf.has(id) ? entityButton(indexOf.get(id)) : element("span", id));
    });
    return chain;
  }

  // The terms that hold along the lineage (a node's `terms` and `conflicts`, when the page carries them).
  function effectiveTerms(entity) {
    const terms = entity.terms || [], conflicts = entity.conflicts || [];
    if (!terms.length && !conflicts.length) return [];
    const section = element("section", null, "effective-terms");
    section.append(element("h3", "Effective terms"));
    if (terms.length) {
      const list = element("ul", null, "terms");
      terms.forEach((term) => {
        const item = element("li");
        const known = term.licence && data.licenses[term.licence];
        item.append(element("strong", term.term));
        if (term.kind) item.append(` (${term.kind})`);
        if (term.licence) item.append(" — ", known ? link(known.url, known.name) : element("span", term.licence));
        if (term.path && term.path.length) item.append(element("br"), "via ", entityChain(term.path));
        (term.sources || []).forEach((url) => item.append(element("br"), link(url)));
        list.append(item);
      });
      section.append(list);
    }
    if (conflicts.length) {
      const list = element("ul", null, "conflicts");
      conflicts.forEach((conflict) => {
        const item = element("li", conflict.message);
        (conflict.paths || []).forEach((path) => item.append(element("br"), entityChain(path)));
        list.append(item);
      });
      section.append(element("h4", "Conflicts"), list);
    }
    return [section];
  }

  // Other trackers' values for this entity (kg build --source), grouped by field, where they disagree.
  function claimList(entity) {
    if (!entity.claims || !entity.claims.length) return [];
    const byField = new Map();
    entity.claims.forEach((claim) => {
      if (!byField.has(claim.field)) byField.set(claim.field, []);
      byField.get(claim.field).push(claim);
    });
    const list = element("ul", null, "claims");
    [...byField.keys()].sort().forEach((field) => {
      const claims = byField.get(field);
      const values = new Set(claims.map((claim) => JSON.stringify(claim.value)));
      const item = element("li", `${field}${values.size > 1 ? " — sources disagree" : ""}`);
      const inner = element("ul");
      claims.forEach((claim) => {
        const row = element("li", `${claim.value} — ${claim.source}${claim.accepted ? " (accepted)" : ""} `);
        if (claim.url) row.append(link(claim.url, claim.where));
        else row.append(element("span", claim.where, "muted"));
        inner.append(row);
      });
      item.append(inner);
      list.append(item);
    });
    return [element("h3", "What the catalog and other trackers say"), list];
  }

  function showPanel(index) {
    const entity = entities[index];
    const panel = $("panel");
    const close = element("button", "×", "close");
    close.type = "button";
    close.title = "Close (Esc)";
    close.addEventListener("click", clearSelection);
    const parts = [close, element("h2", entity.name)];
    if (entity.name_zh) parts.push(element("p", entity.name_zh));
    parts.push(element("p", `${kindStyle.get(entity.legend).label} · ${entity.id}`, "muted"));

    const facts = element("dl");
    const fact = (term, value) => {
      if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) return;
      facts.append(element("dt", term));
      const dd = element("dd");
      if (value instanceof Node) dd.append(value);
      else dd.textContent = Array.isArray(value) ? value.join(", ") : String(value);
      facts.append(dd);
    };
    const outgoing = related(index, "out");
    const makers = element("span");
    outgoing.filter(([edge]) => edge[2] === "developers").forEach(([, other], i) => {
      if (i) makers.append(", ");
      makers.append(entityButton(other));
    });
    fact("Developers", makers.childNodes.length ? makers : undefined);
    fact("Released", entity.released);
    fact("Parameters", entity.parameters && formatCount(entity.parameters));
    fact("Records", entity.records && formatCount(entity.records));
    const license = entity.license && data.licenses[entity.license];
    fact("Licence", license ? link(license.url, license.name) : entity.license);
    // The verdict along the lineage (kg terms) where the page carries terms; the paths are under "Effective terms".
    if (entity.terms) fact("Commercial use", entity.commercial_use === undefined ? "not known" : entity.commercial_use ? "allowed" : "not allowed, see Effective terms");
    fact("Languages", entity.languages);
    fact("Open weights", entity.open_weights === undefined ? undefined : entity.open_weights ? "yes" : "no");
    fact("Country", entity.country);
    fact("Also known as", entity.aliases);
    // Counted as `kg lineage` counts: distinct entities along derivation, training and generation edges.
    fact("Lineage", `${lineageCount(index, 0)} upstream, ${lineageCount(index, 1)} downstream`);
    parts.push(facts);
    const series = familyOf(index);
    if (state.folded && series !== null) {
      const open = state.open.has(series);
      const toggle = element("button", open ? `Fold ${entities[series].name} again` : `Open ${entities[series].name} (${familySize.get(series)} members)`, "family");
      toggle.type = "button";
      toggle.addEventListener("click", () => openFamily(series, !open));
      parts.push(toggle);
    }

    parts.push(element("p", entity.description));
    if (entity.description_zh) parts.push(element("p", entity.description_zh));
    parts.push(...relationList("Comes from", outgoing, (label) => label));
    parts.push(...relationList("Made from it", related(index, "in"), (label) => `${label} it:`, true));
    if (entity.links) {
      const list = element("ul");
      Object.keys(entity.links).sort().forEach((kind) => {
        const item = element("li", `${kind}: `);
        item.append(link(entity.links[kind]));
        list.append(item);
      });
      parts.push(element("h3", "Links"), list);
    }
    parts.push(...licenceStatements(entity), ...effectiveTerms(entity), ...claimList(entity));
    const sources = element("ul", null, "sources");
    entity.sources.forEach((source) => {
      const item = element("li");
      item.append(link(source.url), element("div", source.supports, "muted"));
      sources.append(item);
    });
    parts.push(element("h3", "Sources"), sources);
    if (entity.corrections && entity.corrections.length) {
      const list = element("ul");
      entity.corrections.forEach((correction) => {
        const item = element("li");
        item.append(element("div", `The article says: ${correction.claim}`), element("div", `In fact: ${correction.fact}`), link(correction.source));
        list.append(item);
      });
      parts.push(element("h3", "Corrections to the seed article"), list);
    }
    // A choice made from the keyboard inside the panel keeps the focus there, on the new heading.
    const keepFocus = panel.contains(document.activeElement);
    panel.replaceChildren(...parts);
    panel.hidden = false;
    panel.scrollTop = 0;
    if (keepFocus) {
      parts[1].tabIndex = -1;
      parts[1].focus();
    }
    network.setSize("100%", "100%"); // now, not at vis-network's next size check, so positions stay true
  }

  function relationList(title, pairs, phrase, reverse) {
    if (!pairs.length) return [];
    const list = element("ul");
    pairs
      .slice()
      .sort((a, b) => a[0][2].localeCompare(b[0][2]) || entities[a[1]].name.localeCompare(entities[b[1]].name))
      .forEach(([edge, other]) => {
        const item = element("li");
        const label = phrase(relationStyle.get(edge[2]).label);
        if (reverse) item.append(entityButton(other), ` (${label.replace(/:$/, "")})`);
        else item.append(`${label} `, entityButton(other));
        if (edge[3]) item.append(" — ", link(edge[3], "source"));
        if (edge[4]) item.append(element("div", edge[4], "muted"));
        list.append(item);
      });
    return [element("h3", title), list];
  }

  // An edge's relation, ends, note and evidence (its own, else the derived entity's first source).
  function showEdge(e) {
    const [from, to, relation, evidence, note] = data.edges[e];
    state.edge = e;
    const close = element("button", "×", "close");
    close.type = "button";
    close.title = "Close (Esc)";
    close.addEventListener("click", clearSelection);
    const line = element("p");
    line.append(entityButton(from), ` ${relationStyle.get(relation).label} `, entityButton(to));
    const parts = [close, element("h2", relationStyle.get(relation).label), element("p", `relation · ${relation}`, "muted"), line];
    if (note) parts.push(element("p", note));
    const url = evidence || entities[from].sources[0].url;
    const source = element("p", "Evidence: ");
    source.append(link(url));
    parts.push(source);
    $("panel").replaceChildren(...parts);
    $("panel").hidden = false;
    network.setSize("100%", "100%");
    document.body.dataset.edge = String(e);
  }

  function distanceToSegment(px, py, [ax, ay], [bx, by]) {
    const dx = bx - ax, dy = by - ay;
    const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy || 1)));
    return Math.hypot(px - ax - t * dx, py - ay - t * dy);
  }

  // What is under a click the shapes missed: a label, else the nearest edge within a few pixels.
  function hit(x, y) {
    const scale = network.getScale();
    for (const i of drawnNodes(0)) if (inBox(labelBox(i), x, y, 2 / scale)) return { node: i };
    let best = null, bestDistance = 6 / scale;
    for (const e of drawnEdges()) {
      const points = edgePoints(e);
      for (let k = 1; k < points.length; k++) {
        const d = distanceToSegment(x, y, points[k - 1], points[k]);
        if (d < bestDistance) [best, bestDistance] = [e, d];
      }
    }
    return best === null ? {} : { edge: best };
  }

  // ---- search: names in any language, aliases, ids ----
  const fold = (text) => String(text).normalize("NFKC").toLowerCase();
  const searchKeys = entities.map((entity) => [entity.name, entity.name_zh, entity.id, ...(entity.aliases || [])].filter(Boolean).map(fold));

  function search(text) {
    const query = fold(text.trim());
    if (!query) return [];
    const found = [];
    searchKeys.forEach((keys, i) => {
      let score = 3;
      for (const key of keys) {
        if (key === query) score = Math.min(score, 0);
        else if (key.startsWith(query)) score = Math.min(score, 1);
        else if (key.includes(query)) score = Math.min(score, 2);
      }
      if (score < 3) found.push([score, entities[i].name.length, entities[i].id, i]);
    });
    found.sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : 1));
    return found.map((row) => row[3]);
  }

  function showResults(found) {
    const list = $("results");
    list.replaceChildren(
      ...found.slice(0, 30).map((index) => {
        const item = element("li");
        const button = element("button");
        button.type = "button";
        const entity = entities[index];
        button.append(element("span", entity.name_zh ? `${entity.name} · ${entity.name_zh}` : entity.name), " ", element("span", entity.id, "id"));
        button.addEventListener("click", () => {
          showResults([]);
          select(entity.id, true);
        });
        item.append(button);
        return item;
      }),
    );
    list.hidden = !found.length;
  }

  $("search").addEventListener("input", (event) => showResults(search(event.target.value)));
  // Arrow keys move through the results, Enter picks the marked one (else the best match);
  // the search box keeps the focus, so the next search needs no click.
  let marked = -1;
  function mark(step) {
    const buttons = [...$("results").querySelectorAll("button")];
    if (!buttons.length) return;
    marked = (marked + step + buttons.length) % buttons.length;
    buttons.forEach((button, i) => button.classList.toggle("marked", i === marked));
    buttons[marked].scrollIntoView({ block: "nearest" });
  }
  $("search").addEventListener("input", () => {
    marked = -1;
  });
  $("search").addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      mark(event.key === "ArrowDown" ? 1 : -1);
      return;
    }
    if (event.key !== "Enter") return;
    const found = search(event.target.value);
    const pick = marked >= 0 && marked < found.length ? found[marked] : found[0];
    showResults([]);
    marked = -1;
    if (pick !== undefined) select(entities[pick].id, true);
  });

  // ---- legend with filters ----
  function swatch(draw) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "16");
    svg.setAttribute("viewBox", "0 0 28 16");
    draw(svg);
    return svg;
  }

  function svgShape(svg, tag, attributes) {
    const shape = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.entries(attributes).forEach(([name, value]) => shape.setAttribute(name, value));
    svg.append(shape);
  }

  const SHAPES = {
    dot: ["circle", { cx: 14, cy: 8, r: 6 }],
    diamond: ["polygon", { points: "14,1 21,8 14,15 7,8" }],
    square: ["rect", { x: 8, y: 2, width: 12, height: 12 }],
    triangle: ["polygon", { points: "14,1 21,14 7,14" }],
    triangleDown: ["polygon", { points: "7,2 21,2 14,15" }],
    hexagon: ["polygon", { points: "10,2 18,2 22,8 18,14 10,14 6,8" }],
    star: ["polygon", { points: "14,1 16,6 21,6 17,9.5 18.5,15 14,11.5 9.5,15 11,9.5 7,6 12,6" }],
  };

  function legendRow(list, key, checked, onChange, svg, text) {
    const item = element("li");
    const label = element("label");
    const box = element("input");
    box.type = "checkbox";
    box.value = key;
    box.checked = checked;
    box.addEventListener("change", () => {
      onChange(box.checked);
      writeHash();
    });
    label.append(box, svg, element("span", text));
    item.append(label);
    list.append(item);
  }

  const kindsPresent = new Set(entities.map((entity) => entity.legend));
  data.kinds.filter((kind) => kindsPresent.has(kind.key)).forEach((kind) => {
    const [tag, attributes] = SHAPES[kind.shape];
    legendRow($("kinds"), kind.key, state.kinds.has(kind.key), (on) => {
      if (on) state.kinds.add(kind.key);
      else state.kinds.delete(kind.key);
      applyFilters();
    }, swatch((svg) => svgShape(svg, tag, Object.assign({ fill: kind.color }, attributes))), kind.label);
  });

  data.relations.forEach((relation) => {
    legendRow($("relations"), relation.key, state.relations.has(relation.key), (on) => {
      if (on) state.relations.add(relation.key);
      else state.relations.delete(relation.key);
      applyFilters();
    }, swatch((svg) => {
      const line = { x1: 1, y1: 8, x2: 21, y2: 8, stroke: relation.color, "stroke-width": 2 };
      if (relation.dashes) line["stroke-dasharray"] = relation.dashes.join(" ");
      svgShape(svg, "line", line);
      svgShape(svg, "polygon", { points: "21,4 27,8 21,12", fill: relation.color });
    }), relation.label);
  });

  // ---- organization filter ----
  entities
    .map((entity, i) => [entity, i])
    .filter(([entity]) => entity.kind === "organization")
    .sort((a, b) => a[0].name.localeCompare(b[0].name))
    .forEach(([entity]) => {
      const option = element("option", entity.name);
      option.value = entity.id;
      $("organization").append(option);
    });
  [...new Set(entities.flatMap((entity) => entity.languages || []))].sort().forEach((language) => {
    const option = element("option", language);
    option.value = language;
    $("language").append(option);
  });
  Object.keys(state.facets).forEach((key) => {
    $(key).addEventListener("change", (event) => {
      state.facets[key] = event.target.value;
      applyFilters();
      fitVisible();
      writeHash();
    });
  });
  $("organization").addEventListener("change", (event) => {
    state.organization = event.target.value;
    applyFilters();
    fitVisible(true); // the whole of what it built and built on
    writeHash();
  });

  // ---- hover tip, clicks, keys ----
  const tip = $("tip");
  network.on("hoverNode", (params) => {
    const entity = entities[indexOf.get(params.node)];
    tip.replaceChildren(element("strong", entity.name), element("span", `${kindStyle.get(entity.legend).label}${entity.released ? `, ${entity.released}` : ""}`));
    tip.style.left = `${params.pointer.DOM.x + $("graph").offsetLeft + 14}px`;
    tip.style.top = `${params.pointer.DOM.y + 14}px`;
    tip.hidden = false;
  });
  network.on("blurNode", () => {
    tip.hidden = true;
  });
  network.on("click", (params) => {
    tip.hidden = true;
    delete document.body.dataset.edge;
    if (params.nodes.length) return select(params.nodes[0], true);
    const found = hit(params.pointer.canvas.x, params.pointer.canvas.y);
    if (found.node !== undefined) select(entities[found.node].id, true);
    else if (found.edge !== undefined) showEdge(found.edge);
    else clearSelection();
  });
  network.on("dragEnd", (params) => {
    if (params.nodes.length) state.moved = true;
  });
  $("reset").addEventListener("click", reset);
  // Zoom buttons: in and out around the middle of the view, and fit what is shown.
  const zoomBy = (factor) => {
    network.moveTo({ scale: network.getScale() * factor, animation: false });
    updateArrows();
  };
  $("zoom-in").addEventListener("click", () => zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => zoomBy(1 / 1.25));
  $("zoom-fit").addEventListener("click", () => fitVisible(true));
  $("legend-toggle").addEventListener("click", () => document.body.classList.toggle("legend-open"));
  // Physics lets the nodes move along the edges; turning it off puts every node back where the layout put it.
  // The time axis moves models and datasets to x by release date (undated ones to a column on
  // the left), keeping their rows; edges are then drawn straight. Off, the layout comes back.
  const months = entities.map((entity, i) => (isLineage[i] ? monthOf(entity.released) : null));
  const firstMonth = Math.floor(Math.min(...months.filter((m) => m !== null)));
  function timeX(i) {
    return months[i] === null ? -4 * MONTH_WIDTH : (months[i] - firstMonth) * MONTH_WIDTH;
  }

  function setTimeAxis(on) {
    state.timeAxis = on;
    $("time-axis").checked = on;
    if (!on) return restoreLayout();
    state.moved = true;
    const changes = [];
    entities.forEach((entity, i) => {
      if (!isLineage[i]) return;
      changes.push({ id: entity.id, x: timeX(i), y: entity.y });
      const drawn = body[entity.id];
      if (drawn) drawn.x = timeX(i);
    });
    nodes.update(changes);
    fitVisible(true); // an overview of the years: zoom in to read
    network.redraw();
  }

  function restoreLayout() {
    const packed = packedPlaces();
    compactKey = packed ? shownKey() : "";
    const home = (entity, i) => (packed && packed.has(i) ? packed.get(i) : [entity.x, entity.y]);
    nodes.update(entities.map((entity, i) => ({ id: entity.id, x: home(entity, i)[0], y: home(entity, i)[1] })));
    entities.forEach((entity, i) => {
      const drawn = body[entity.id];
      if (drawn) [drawn.x, drawn.y] = home(entity, i);
    });
    state.moved = Boolean(packed);
    fitVisible();
    network.redraw();
  }

  // ---- a filtered view, laid out again ----
  // Filters by maker, licence, language or date leave a few entities scattered over the whole
  // layout: they are packed into consecutive columns in the order of the layout's (so lineage
  // still reads left to right) and rows one under the other, so what matches fills the view
  // at a readable size; edges are drawn straight meanwhile. Cleared, the layout comes back.
  let compactKey = "";
  const shownKey = () => entities.map((_, i) => i).filter((i) => !hiddenNodes.has(i)).join(",");
  const ROW = LINE * 2;

  const packing = () => filtersOpenFamilies() && !state.timeAxis && !state.physics;

  function packedPlaces() {
    if (!packing()) return null;
    const shown = entities.map((_, i) => i).filter((i) => !hiddenNodes.has(i));
    const columns = new Map();
    shown.filter((i) => isLineage[i]).forEach((i) => {
      if (!columns.has(entities[i].x)) columns.set(entities[i].x, []);
      columns.get(entities[i].x).push(i);
    });
    const places = new Map();
    let bottom = 0, left = 0;
    [...columns.keys()].sort((a, b) => a - b).forEach((x) => {
      const members = columns.get(x).sort((a, b) => entities[a].y - entities[b].y);
      members.forEach((i, row) => places.set(i, [left, row * ROW]));
      bottom = Math.max(bottom, members.length * ROW);
      // The next column starts past the longest label of this one.
      left += Math.max(...members.map((i) => entities[i].size + LABEL_GAP + labelWidth[i])) + 80;
    });
    // Makers, people, software and methods shown by the filters: one row under the lineage.
    let x = 0;
    shown.filter((i) => !isLineage[i]).forEach((i) => {
      places.set(i, [x, bottom + ROW]);
      x += entities[i].size * 2 + LABEL_GAP + labelWidth[i] + 40;
    });
    return places;
  }

  // Shown over the graph while filters narrow it, on every screen size, with a way back.
  function showFilterNote() {
    const note = $("filter-note");
    const shown = entities.length - hiddenNodes.size;
    note.hidden = !filtersOpenFamilies();
    if (note.hidden) return;
    const clear = element("button", "clear filters");
    clear.type = "button";
    clear.addEventListener("click", reset);
    const what = shown ? `Filtered: ${shown} of ${entities.length} entities match` : "No entity matches these filters";
    note.replaceChildren(element("span", `${what} · `), clear);
  }

  // Month ticks along the top of the time axis: each January named by its year, other quarters by month.
  network.on("beforeDrawing", (ctx) => {
    if (!state.timeAxis) return;
    const view = viewBox(0);
    const scale = network.getScale();
    ctx.save();
    ctx.font = `${12 / scale}px ${FONT_FACE}`;
    ctx.textBaseline = "top";
    ctx.lineWidth = 1 / scale;
    for (let m = Math.max(firstMonth, Math.floor(view.left / MONTH_WIDTH) + firstMonth - 1); (m - firstMonth) * MONTH_WIDTH < view.right; m++) {
      if (m % 3) continue;
      const x = (m - firstMonth) * MONTH_WIDTH;
      ctx.strokeStyle = m % 12 ? "#eef0f3" : "#d2d7de";
      ctx.beginPath();
      ctx.moveTo(x, view.top);
      ctx.lineTo(x, view.bottom);
      ctx.stroke();
      ctx.fillStyle = "#5b6573";
      ctx.fillText(m % 12 ? `${Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, "0")}` : String(m / 12), x + 3 / scale, view.top + 4 / scale);
    }
    ctx.restore();
  });
  $("time-axis").addEventListener("change", (event) => {
    setTimeAxis(event.target.checked);
    writeHash();
  });
  ["from", "to"].forEach((end) => {
    $(`date-${end}`).addEventListener("change", (event) => {
      const month = event.target.value ? monthOf(event.target.value) - 0.5 : null;
      state.dates[end] = month;
      applyFilters();
      fitVisible();
      writeHash();
    });
  });

  function setPhysics(on) {
    state.physics = on;
    if (on) state.moved = true;
    edgeView.refresh();
    network.setOptions({ physics: { enabled: on } });
    if (!on) {
      if (state.timeAxis) setTimeAxis(true);
      else restoreLayout();
    }
  }
  $("physics").addEventListener("change", (event) => setPhysics(event.target.checked));
  // Outside the search box, [ and ] move to the selected entity's first source or first
  // offspring (by name), so the lineage can be walked from the keyboard.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") return reset();
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement || state.selected === null) return;
    const next = event.key === "[" ? up[state.selected] : event.key === "]" ? down[state.selected] : null;
    if (!next || !next.length) return;
    const sorted = next.filter((i) => !hiddenNodes.has(i)).sort((a, b) => entities[a].name.localeCompare(entities[b].name));
    if (sorted.length) select(entities[sorted[0]].id, true);
  });

  applyFilters();
  // A small graph opens framed whole, or fitted to the width at a readable zoom from its top;
  // a big one at a readable zoom on its most-descended entity (vis-network draws only the
  // nodes in view, and a whole view of thousands is a blur). "Show whole graph" fits everything.
  network.setSize("100%", "100%"); // the header has its final controls now: take the size left for the graph before framing
  if (big) {
    const hub = entities.reduce((best, entity, i) => (!hiddenNodes.has(i) && entity.size > entities[best].size ? i : best), 0);
    network.moveTo({ position: { x: entities[hub].x, y: entities[hub].y }, scale: OPENING_SCALE, animation: false });
  } else {
    fitVisible();
  }
  // A big graph draws arrow heads from zoom ARROW_SCALE on, whether zoomed by wheel, pinch or button.
  function updateArrows() {
    const wanted = !big || network.getScale() >= ARROW_SCALE;
    if (wanted !== state.arrows) {
      state.arrows = wanted;
      network.redraw();
    }
  }
  if (big) network.on("zoom", updateArrows);
  // ---- the table view: the same entities as rows, also the text alternative to the graph ----
  const COLUMNS = [
    ["name", "Name"], ["kind", "Kind"], ["released", "Released"], ["developers", "Developers"], ["license", "Licence"], ["parents", "Comes from"],
  ];  // prettier-ignore
  const table = { sort: "name", descending: false, rows: null };

  function tableRows() {
    return entities.map((entity, i) => {
      const names = (relations) => links[i].map((e) => data.edges[e]).filter((edge) => edge[0] === i && relations(edge[2])).map((edge) => entities[edge[1]].name).sort();
      const license = entity.license && data.licenses[entity.license];
      return {
        index: i,
        name: entity.name,
        kind: kindStyle.get(entity.legend).label,
        released: entity.released || "",
        developers: names((r) => r === "developers").join("; "),
        license: license ? license.name : entity.license || "",
        parents: names((r) => relationStyle.get(r).lineage).join("; "),
      };
    });
  }

  function shownRows() {
    const query = fold($("table-filter").value.trim());
    const rows = table.rows.filter((row) => !filteredOut.has(row.index) && (!query || COLUMNS.some(([key]) => fold(row[key]).includes(query))));
    const sign = table.descending ? -1 : 1;
    return rows.sort((a, b) => sign * (a[table.sort].localeCompare(b[table.sort]) || a.name.localeCompare(b.name)));
  }

  function csvField(value) {
    return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  }

  function drawTable() {
    table.rows = table.rows || tableRows();
    const head = $("table").tHead.rows[0];
    head.replaceChildren(...COLUMNS.map(([key, title]) => {
      const cell = element("th");
      const button = element("button", key === table.sort ? `${title} ${table.descending ? "▼" : "▲"}` : title);
      button.type = "button";
      button.addEventListener("click", () => {
        table.descending = table.sort === key ? !table.descending : false;
        table.sort = key;
        drawTable();
      });
      cell.setAttribute("aria-sort", key === table.sort ? (table.descending ? "descending" : "ascending") : "none");
      cell.append(button);
      return cell;
    }));
    const rows = shownRows();
    $("table").tBodies[0].replaceChildren(...rows.map((row) => {
      const line = element("tr");
      COLUMNS.forEach(([key]) => {
        const cell = element("td");
        if (key === "name") cell.append(entityButton(row.index));
        else cell.textContent = row[key];
        line.append(cell);
      });
      return line;
    }));
    $("table-count").textContent = `${rows.length} rows`;
    const csv = [COLUMNS.map(([, title]) => title), ...rows.map((row) => COLUMNS.map(([key]) => row[key]))].map((line) => line.map(csvField).join(",")).join("\r\n");
    $("table-csv").href = `data:text/csv;charset=utf-8,${encodeURIComponent(`${csv}\r\n`)}`;
  }

  function showTable(on) {
    $("table-view").hidden = !on;
    $("graph").hidden = on;
    $("zoom").hidden = on;
    $("view-table").setAttribute("aria-pressed", String(on));
    if (on) return drawTable();
    network.setSize("100%", "100%"); // the graph's size again, before it is framed
    if (pendingFrame) frame(...pendingFrame.splice(0));
    pendingFrame = null;
  }
  $("view-table").addEventListener("click", () => {
    showTable($("table-view").hidden);
    writeHash();
  });
  $("table-filter").addEventListener("input", drawTable);

  readHash();
  $("fold").checked = state.folded;
  $("fold").disabled = !seriesOf.size;
  $("fold").addEventListener("change", (event) => {
    setFolded(event.target.checked);
    writeHash();
  });
  // The graph's own edges, whichever view is drawn (the folded view's follow them in `edges`).
  const graphEdgeView = new vis.DataView(edges, { filter: (item) => item.id < graphEdges });
  window.lineage = { setTimeAxis, setFolded, nodes, edges: graphEdgeView, network, select, search, reset, layout, setPhysics, showEdge };
})();
