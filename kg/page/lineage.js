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
  const LABEL_SCALE = 0.25; // below this zoom labels are too small to draw, so none are made
  const $ = (id) => document.getElementById(id);

  // Adjacency: `up` toward sources, `down` toward what was made from them.
  const up = entities.map(() => []);
  const down = entities.map(() => []);
  const touching = entities.map(() => []);
  data.edges.forEach(([from, to, relation], e) => {
    if (relationStyle.get(relation).lineage) {
      up[from].push(to);
      down[to].push(from);
    }
    touching[from].push(e);
    touching[to].push(e);
  });

  const state = {
    selected: null,
    // The family tree first: makers, software and methods show around the selected entity.
    kinds: new Set(data.kinds.filter((kind) => kind.lineage).map((kind) => kind.key)),
    relations: new Set(data.relations.filter((r) => r.lineage).map((r) => r.key)),
    organization: "",
  };

  // What the first drawing shows, set on the data itself so that no update follows it.
  function shownAtFirst(from, to, relation) {
    return state.relations.has(relation) && state.kinds.has(entities[from].legend) && state.kinds.has(entities[to].legend);
  }

  function nodeLook(entity, dimmed) {
    const color = dimmed ? DIM : kindStyle.get(entity.legend).color;
    return {
      color: { background: color, border: dimmed ? DIM : "#ffffff", highlight: { background: color, border: "#111111" } },
      font: { color: dimmed ? "#b7bdc5" : "#1d232b" },
    };
  }

  // Labels only on the lit edges of a selection: on every edge they hide the tree.
  // A name of any length gets a label of at most LABEL_CHARS; the panel shows it whole.
  const LABEL_CHARS = 48;
  function shortName(name) {
    const chars = Array.from(name);
    return chars.length > LABEL_CHARS ? `${chars.slice(0, LABEL_CHARS - 1).join("")}…` : name;
  }

  function edgeLook(relation, dimmed, labelled) {
    const style = relationStyle.get(relation);
    return {
      color: { color: dimmed ? DIM : style.color, highlight: style.color, hover: style.color, inherit: false },
      label: labelled ? style.label : " ",
    };
  }

  // Items carry as few options as possible: vis-network merges and copies each
  // item's options one by one, so a kind's look comes from its group and an
  // edge's from one colour string.
  const nodes = new vis.DataSet(
    entities.map((entity) => ({
      id: entity.id, label: big ? undefined : shortName(entity.name), x: entity.x, y: entity.y, size: entity.size,
      group: entity.legend, hidden: !state.kinds.has(entity.legend),
    })),
  );
  const edges = new vis.DataSet(
    data.edges.map(([from, to, relation], e) => {
      const style = relationStyle.get(relation);
      const edge = { id: e, from: entities[from].id, to: entities[to].id, color: style.color, hidden: !shownAtFirst(from, to, relation) };
      if (style.dashes) edge.dashes = style.dashes; // no label until lit: measuring labels is costly
      return edge;
    }),
  );
  const groups = Object.fromEntries(
    data.kinds.map((kind) => [kind.key, Object.assign({ shape: kind.shape }, nodeLook({ legend: kind.key }, false))]),
  );

  // The network draws views of the data holding only what is shown: vis-network
  // builds an object for every item it is given, hidden or not, and on big
  // graphs that construction is most of the time to the first drawing.
  const shown = { filter: (item) => !item.hidden };
  const network = new vis.Network(
    $("graph"),
    { nodes: new vis.DataView(nodes, shown), edges: new vis.DataView(edges, shown) },
    {
      autoResize: true,
      physics: { enabled: false, solver: "forceAtlas2Based", stabilization: false },
      layout: { improvedLayout: false, hierarchical: false },
      groups,
      interaction: { hover: !big, hideEdgesOnDrag: big, hideEdgesOnZoom: big, tooltipDelay: 3600000, keyboard: false },
      nodes: { borderWidth: 1, font: { size: 14, face: "system-ui, sans-serif", strokeWidth: 3, strokeColor: "#fafbfc" } },
      edges: {
        smooth: false,
        width: 1.2,
        // Arrow heads are the costliest thing to draw; on a big graph they appear once zoomed in enough to see them.
        arrows: { to: { enabled: !big, scaleFactor: 0.45 } },
        font: { size: 10, color: "#6b7480", strokeWidth: 3, strokeColor: "#fafbfc", align: "middle" },
        selectionWidth: 1.5,
      },
    },
  );

  // A big graph gets its node labels as they come into view: processing and
  // measuring every label up front is a large part of vis-network's start.
  const labelled = new Uint8Array(entities.length);

  function labelInView() {
    if (!big || network.getScale() < LABEL_SCALE) return;
    const scale = network.getScale();
    const centre = network.getViewPosition();
    // What is on screen, and a tenth of a screen around it.
    const halfWidth = (0.6 * $("graph").clientWidth) / scale, halfHeight = (0.6 * $("graph").clientHeight) / scale;
    const inView = [];
    entities.forEach((entity, i) => {
      if (Math.abs(entity.x - centre.x) < halfWidth && Math.abs(entity.y - centre.y) < halfHeight) inView.push(i);
    });
    label(inView);
  }

  function label(indices) {
    const changes = [];
    for (const i of indices) {
      if (!labelled[i]) {
        labelled[i] = 1;
        changes.push({ id: entities[i].id, label: shortName(entities[i].name) });
      }
    }
    if (changes.length) nodes.update(changes);
  }

  if (big) {
    let arrows = false;
    network.on("zoom", () => {
      const wanted = network.getScale() >= ARROW_SCALE;
      if (wanted !== arrows) {
        arrows = wanted;
        network.setOptions({ edges: { arrows: { to: { enabled: arrows } } } });
      }
      labelInView();
    });
    network.on("dragEnd", labelInView);
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
    button.addEventListener("click", () => select(entities[index].id, true));
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

  let dimmedNodes = new Set();
  let dimmedEdges = new Set();

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
  let labelledEdges = new Set();

  function restyle(nextNodes, nextEdges, nextLabelled) {
    const nodeChanges = [];
    entities.forEach((entity, i) => {
      if (nextNodes.has(i) !== dimmedNodes.has(i)) nodeChanges.push(Object.assign({ id: entity.id }, nodeLook(entity, nextNodes.has(i))));
    });
    const edgeChanges = [];
    data.edges.forEach((edge, e) => {
      if (nextEdges.has(e) !== dimmedEdges.has(e) || nextLabelled.has(e) !== labelledEdges.has(e)) {
        edgeChanges.push(Object.assign({ id: e }, edgeLook(edge[2], nextEdges.has(e), nextLabelled.has(e))));
      }
    });
    dimmedNodes = nextNodes;
    dimmedEdges = nextEdges;
    labelledEdges = nextLabelled;
    nodes.update(nodeChanges);
    edges.update(edgeChanges);
  }

  // ---- filters: kind, relation, organization ----
  let hiddenNodes = new Set(entities.map((_, i) => i).filter((i) => !state.kinds.has(entities[i].legend)));
  let hiddenEdges = new Set(data.edges.map((_, e) => e).filter((e) => !shownAtFirst(...data.edges[e])));

  function applyFilters() {
    const org = state.organization === "" ? -1 : indexOf.get(state.organization);
    const orgNeighbours = new Set(org < 0 ? [] : touching[org].flatMap((e) => data.edges[e].slice(0, 2)));
    const selected = state.selected === null ? -1 : state.selected;
    const around = new Set(selected < 0 ? [] : [selected, ...touching[selected].flatMap((e) => data.edges[e].slice(0, 2))]);
    const nextNodes = new Set();
    entities.forEach((entity, i) => {
      const shown = org < 0 ? state.kinds.has(entity.legend) : i === org || (orgNeighbours.has(i) && state.kinds.has(entity.legend));
      if (!shown && !around.has(i)) nextNodes.add(i);
    });
    const nextEdges = new Set();
    data.edges.forEach(([from, to, relation], e) => {
      const wanted = state.relations.has(relation) || from === selected || to === selected;
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
    $("counts").textContent = `${entities.length - hiddenNodes.size} of ${entities.length} entities, ${data.edges.length - hiddenEdges.size} of ${data.edges.length} links shown`;
  }

  function fitVisible() {
    network.fit({ nodes: entities.filter((_, i) => !hiddenNodes.has(i)).map((entity) => entity.id), animation: false });
  }

  // ---- selection and the side panel ----
  function select(id, moveTo) {
    const index = indexOf.get(id);
    if (index === undefined) return;
    state.selected = index;
    applyFilters();
    const lineage = highlight(index);
    if (big) label(lineage);
    network.selectNodes([id]);
    showPanel(index);
    // Show the whole lineage when it is small enough to read at once, else the entity itself.
    if (moveTo && lineage.size <= 150) network.fit({ nodes: [...lineage].map((i) => entities[i].id), animation: false });
    else if (moveTo) network.focus(id, { scale: Math.max(network.getScale(), 0.9), animation: false });
    labelInView();
    document.body.dataset.selected = id;
  }

  // Back to the whole graph, keeping the view where it is (a click on the background).
  function clearSelection() {
    state.selected = null;
    $("panel").hidden = true;
    $("panel").replaceChildren();
    network.setSize("100%", "100%");
    network.unselectAll();
    restyle(new Set(), new Set(), new Set());
    applyFilters();
    delete document.body.dataset.selected;
  }

  // Back to the whole graph as first drawn: no selection, search or organization filter.
  function reset() {
    state.organization = "";
    $("organization").value = "";
    $("search").value = "";
    showResults([]);
    clearSelection();
    fitVisible();
  }

  function formatCount(value) {
    if (value >= 1e9) return `${+(value / 1e9).toFixed(1)} billion`;
    if (value >= 1e6) return `${+(value / 1e6).toFixed(1)} million`;
    return value.toLocaleString("en");
  }

  function related(index, direction) {
    // [(relation label, other entity index)] for one side of an entity's edges.
    return touching[index]
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
    fact("Languages", entity.languages);
    fact("Open weights", entity.open_weights === undefined ? undefined : entity.open_weights ? "yes" : "no");
    fact("Country", entity.country);
    fact("Also known as", entity.aliases);
    parts.push(facts);

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
    parts.push(...licenceStatements(entity), ...claimList(entity));
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
    panel.replaceChildren(...parts);
    panel.hidden = false;
    panel.scrollTop = 0;
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
  $("search").addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    const found = search(event.target.value);
    showResults([]);
    if (found.length) select(entities[found[0]].id, true);
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

  function legendRow(list, checked, onChange, svg, text) {
    const item = element("li");
    const label = element("label");
    const box = element("input");
    box.type = "checkbox";
    box.checked = checked;
    box.addEventListener("change", () => onChange(box.checked));
    label.append(box, svg, element("span", text));
    item.append(label);
    list.append(item);
  }

  const kindsPresent = new Set(entities.map((entity) => entity.legend));
  data.kinds.filter((kind) => kindsPresent.has(kind.key)).forEach((kind) => {
    const [tag, attributes] = SHAPES[kind.shape];
    legendRow($("kinds"), state.kinds.has(kind.key), (on) => {
      if (on) state.kinds.add(kind.key);
      else state.kinds.delete(kind.key);
      applyFilters();
    }, swatch((svg) => svgShape(svg, tag, Object.assign({ fill: kind.color }, attributes))), kind.label);
  });

  data.relations.forEach((relation) => {
    legendRow($("relations"), state.relations.has(relation.key), (on) => {
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
  $("organization").addEventListener("change", (event) => {
    state.organization = event.target.value;
    applyFilters();
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
    if (params.nodes.length) select(params.nodes[0], false);
    else if (!params.edges.length) clearSelection();
  });
  $("reset").addEventListener("click", reset);
  $("physics").addEventListener("change", (event) => network.setOptions({ physics: { enabled: event.target.checked } }));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") reset();
  });

  applyFilters();
  // vis-network has already fitted what it was given: the shown part of the graph.
  // A big graph is opened at a readable zoom on its most-descended entity instead:
  // a whole view of thousands of nodes is a blur that takes seconds per frame to draw
  // (vis-network draws only the nodes in view). "Show whole graph" fits everything.
  if (big) {
    const hub = entities.reduce((best, entity, i) => (!hiddenNodes.has(i) && entity.size > entities[best].size ? i : best), 0);
    network.moveTo({ position: { x: entities[hub].x, y: entities[hub].y }, scale: OPENING_SCALE, animation: false });
    labelInView();
  }
  window.lineage = { nodes, edges, network, select, search, reset };
})();
