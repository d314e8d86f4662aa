// The head-count explorer, computed in the browser: no kernel, no network.
//
// mha.explorer.page_explorer() writes a <div class="mha-explorer"> holding the
// explorer's data as JSON (the layer's W^Q, b^Q, W^K, b^K, the token vectors of the
// built-in sentences, the position encodings) and then this script. For one setting
// of the five controls it does what mha.explorer.compute_view does in PyTorch:
// project the tokens to queries and keys, split them into h heads, score every
// query against every key divided by sqrt(d_k) and the temperature, mask, softmax,
// and measure each head's entropy. It draws the result as an SVG like
// mha.explorer.draw_explorer. A browser test compares its numbers with mha's.
//
// root.mhaExplorer.state() returns the numbers behind the current picture;
// root.mhaExplorer.set({num_heads, sentence, seq_len, temperature, mask}) moves
// the controls.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var MASKED = "#d3d3d3"; // light grey, as mha.plotting draws masked cells
  var MAX_PANELS = 8;

  function tokenize(sentence) {
    return sentence.toLowerCase().split(/\s+/).filter(function (t) {
      return t.length > 0;
    });
  }

  // x (T, E) @ w^T (E, E) + b -> (T, E)
  function project(x, w, b) {
    return x.map(function (row) {
      return w.map(function (wRow, j) {
        var sum = b[j];
        for (var e = 0; e < row.length; e++) sum += row[e] * wRow[e];
        return sum;
      });
    });
  }

  // One setting of the controls -> tokens, weights (h, T, S), entropy (h,) ...
  function compute(data, view) {
    var tokens = tokenize(data.sentences[view.sentence]).slice(0, view.seq_len);
    var nReal = tokens.length;
    if (view.mask === "padding") {
      var padded = Math.max(data.padded_length, nReal + 1);
      while (tokens.length < padded) tokens.push(data.pad);
    }
    var T = tokens.length;
    var x = tokens.map(function (token, t) {
      var vector = data.vectors[token];
      return vector.map(function (v, e) {
        return v + data.positions[t][e];
      });
    });
    var q = project(x, data.w_q, data.b_q);
    var k = project(x, data.w_k, data.b_k);
    var h = view.num_heads;
    var dk = data.d_model / h;
    var scale = 1 / (Math.sqrt(dk) * view.temperature);
    var allowed = []; // allowed[t][s]: may query t attend to key s?
    for (var t = 0; t < T; t++) {
      allowed.push([]);
      for (var s = 0; s < T; s++) {
        var ok = true;
        if (view.mask === "causal" && s > t) ok = false;
        if (view.mask === "padding" && s >= nReal) ok = false;
        allowed[t].push(ok);
      }
    }
    var weights = [];
    var entropy = [];
    for (var i = 0; i < h; i++) {
      var head = [];
      var headEntropy = 0;
      for (t = 0; t < T; t++) {
        var scores = [];
        var top = -Infinity;
        for (s = 0; s < T; s++) {
          var dot = 0;
          for (var d = i * dk; d < (i + 1) * dk; d++) dot += q[t][d] * k[s][d];
          scores.push(dot * scale);
          if (allowed[t][s] && scores[s] > top) top = scores[s];
        }
        var total = 0;
        var row = scores.map(function (score, s2) {
          var e = allowed[t][s2] ? Math.exp(score - top) : 0;
          total += e;
          return e;
        });
        row = row.map(function (e) {
          return e / total;
        });
        if (t < nReal) {
          headEntropy -= row.reduce(function (acc, a) {
            return a > 0 ? acc + a * Math.log(a) : acc;
          }, 0);
        }
        head.push(row);
      }
      weights.push(head);
      entropy.push(headEntropy / nReal);
    }
    var ceiling = 0;
    for (t = 0; t < nReal; t++) {
      ceiling += Math.log(allowed[t].filter(Boolean).length);
    }
    return {
      view: view,
      tokens: tokens,
      n_real: nReal,
      head_dim: dk,
      weights: weights,
      entropy: entropy,
      max_entropy: ceiling / nReal,
      allowed: allowed,
    };
  }

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    var node = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  function colour(data, value, vmax) {
    var n = data.viridis.length;
    var i = Math.round((Math.min(value / vmax, 1) * (n - 1)));
    return data.viridis[Math.max(0, Math.min(n - 1, i))];
  }

  function fmt(value) {
    return String(Number(value.toPrecision(3)));
  }

  // One (T, S) map with its top-left corner at (x0, y0), cells of `cell` px.
  function drawMap(g, data, map, allowed, x0, y0, cell, vmax) {
    map.forEach(function (row, t) {
      row.forEach(function (a, s) {
        el(
          "rect",
          {
            x: x0 + s * cell,
            y: y0 + t * cell,
            width: cell,
            height: cell,
            fill: allowed[t][s] ? colour(data, a, vmax) : MASKED,
          },
          g
        );
      });
    });
  }

  // Tokens along one side of a map; long ones on the x axis are turned upright.
  function tokenLabels(g, tokens, x0, y0, cell, axis, size) {
    var rotate = tokens.some(function (tok) {
      return tok.length > 3;
    });
    tokens.forEach(function (token, j) {
      if (axis === "y") {
        text(g, x0 - 3, y0 + (j + 0.5) * cell, token, {
          "text-anchor": "end",
          "dominant-baseline": "middle",
          "font-size": size,
        });
      } else {
        var cx = x0 + (j + 0.5) * cell;
        text(g, cx, y0 + 3, token, {
          "text-anchor": rotate ? "end" : "middle",
          "dominant-baseline": rotate ? "middle" : "hanging",
          "font-size": size,
          transform: rotate ? "rotate(-90 " + cx + " " + (y0 + 3) + ")" : "",
        });
      }
    });
  }

  // The figure, for a page column about 700 px wide: the head maps on top (up to
  // eight, with the colorbar), then the head-averaged map and the entropy bars.
  function draw(svg, data, result, labels) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var W = 700;
    var background = el("rect", { x: 0, y: 0, width: W, height: 10, fill: "white" }, svg);
    var g = el("g", { "font-family": "sans-serif", fill: "black" }, svg);
    var h = result.weights.length;
    var T = result.tokens.length;
    var shown = Math.min(h, MAX_PANELS);
    var average = result.weights[0].map(function (row, t) {
      return row.map(function (_, s) {
        var sum = 0;
        for (var i = 0; i < h; i++) sum += result.weights[i][t][s];
        return sum / h;
      });
    });
    var vmax = 0;
    result.weights.slice(0, shown).concat([average]).forEach(function (map) {
      map.forEach(function (row) {
        row.forEach(function (a) {
          if (a > vmax) vmax = a;
        });
      });
    });
    text(
      g,
      W / 2,
      20,
      (h === 1 ? labels.title_one : labels.title)
        .replace("{h}", h)
        .replace("{d_k}", result.head_dim)
        .replace("{E}", data.d_model)
        .replace("{tau}", fmt(result.view.temperature))
        .replace("{mask}", labels["mask_" + result.view.mask])
        .replace("{T}", T),
      { "text-anchor": "middle", "font-size": 15 }
    );
    var longest = Math.max.apply(null, result.tokens.map(function (tok) {
      return tok.length;
    }));
    var rotate = longest > 3;
    // The head maps: one row for up to two heads, else two rows of up to four.
    var rows = shown <= 2 ? 1 : 2;
    var cols = Math.ceil(shown / rows);
    var left = 86;
    var top = 52;
    var gap = 16;
    var titleRoom = 16;
    var gridBudget = W - left - 80; // room on the right for the colorbar
    var cell = Math.min((gridBudget - (cols - 1) * gap) / (cols * T), 150 / T);
    var size = Math.max(8, Math.min(11, cell * 0.95));
    var keyRoom = (rotate ? 0.6 * size * longest : size) + 8;
    for (var i = 0; i < shown; i++) {
      var r = Math.floor(i / cols);
      var c = i % cols;
      var x0 = left + c * (T * cell + gap);
      var y0 = top + r * (T * cell + keyRoom + titleRoom);
      text(g, x0 + (T * cell) / 2, y0 - 4, labels.head_title.replace("{i}", i), {
        "text-anchor": "middle",
        "font-size": 12,
      });
      drawMap(g, data, result.weights[i], result.allowed, x0, y0, cell, vmax);
      if (c === 0) tokenLabels(g, result.tokens, x0, y0, cell, "y", size);
      tokenLabels(g, result.tokens, x0, y0 + T * cell, cell, "x", size);
    }
    var gridW = cols * T * cell + (cols - 1) * gap;
    var mapsBottom = top + rows * (T * cell + keyRoom + titleRoom) - titleRoom;
    text(g, 12, (top + mapsBottom) / 2, labels.query_axis.replace("{T}", T), {
      "text-anchor": "middle",
      "font-size": 12,
      transform: "rotate(-90 12 " + (top + mapsBottom) / 2 + ")",
    });
    var below = mapsBottom + 14;
    text(g, left + gridW / 2, below, labels.key_axis.replace("{S}", T), {
      "text-anchor": "middle",
      "font-size": 12,
    });
    if (shown < h) {
      below += 17;
      text(
        g,
        left + gridW / 2,
        below,
        labels.more_heads.replace("{last}", shown - 1).replace(/\{h\}/g, h),
        { "text-anchor": "middle", "font-size": 12, "font-style": "italic" }
      );
    }
    // The colorbar, right of the maps.
    var barX = left + gridW + 14;
    var barTop = top;
    var barH = Math.max(120, mapsBottom - top - keyRoom);
    var steps = 64;
    for (var j = 0; j < steps; j++) {
      el(
        "rect",
        {
          x: barX,
          y: barTop + barH - ((j + 1) * barH) / steps,
          width: 12,
          height: barH / steps + 0.5,
          fill: colour(data, ((j + 0.5) / steps) * vmax, vmax),
        },
        g
      );
    }
    [0, 0.5, 1].forEach(function (f) {
      text(g, barX + 16, barTop + barH - f * barH, fmt(f * vmax), {
        "dominant-baseline": "middle",
        "font-size": 11,
      });
    });
    var labelX = barX + 52;
    text(g, labelX, barTop + barH / 2, labels.colorbar, {
      "text-anchor": "middle",
      "font-size": 11,
      transform: "rotate(-90 " + labelX + " " + (barTop + barH / 2) + ")",
    });
    // Below: the head-averaged map (left) and each head's entropy (right).
    var y2 = below + 40;
    var avgCell = Math.min(200 / T, 40);
    var small = Math.max(8, Math.min(11, avgCell * 0.9));
    text(
      g,
      left + (T * avgCell) / 2,
      y2 - 6,
      h === 1 ? labels.only_head : labels.mean_map.replace("{h}", h),
      { "text-anchor": "middle", "font-size": 12 }
    );
    drawMap(g, data, average, result.allowed, left, y2, avgCell, vmax);
    tokenLabels(g, result.tokens, left, y2, avgCell, "y", small);
    tokenLabels(g, result.tokens, left, y2 + T * avgCell, avgCell, "x", small);
    var avgBottom = y2 + T * avgCell + (rotate ? 0.6 * small * longest : small) + 8;
    var plotX = 400;
    var plotY = y2 + 10;
    var plotW = 270;
    var plotH = 150;
    var ymax = result.max_entropy * 1.25 + 1e-9;
    text(g, plotX + plotW / 2, y2 - 6, labels.entropy_title, {
      "text-anchor": "middle",
      "font-size": 12,
    });
    el("line", { x1: plotX, y1: plotY + plotH, x2: plotX + plotW, y2: plotY + plotH,
      stroke: "black" }, g);
    el("line", { x1: plotX, y1: plotY, x2: plotX, y2: plotY + plotH, stroke: "black" }, g);
    var slot = plotW / h;
    result.entropy.forEach(function (value, i2) {
      var height = (value / ymax) * plotH;
      el(
        "rect",
        {
          x: plotX + i2 * slot + slot * 0.1,
          y: plotY + plotH - height,
          width: slot * 0.8,
          height: height,
          fill: i2 < shown ? "#3b528b" : "#a5bfd9",
        },
        g
      );
    });
    var ceilY = plotY + plotH - (result.max_entropy / ymax) * plotH;
    el("line", { x1: plotX, y1: ceilY, x2: plotX + plotW, y2: ceilY, stroke: "black",
      "stroke-dasharray": "4 3" }, g);
    text(g, plotX + plotW, ceilY - 4, labels.uniform, {
      "text-anchor": "end",
      "font-size": 11,
    });
    [0, result.max_entropy].forEach(function (v) {
      text(g, plotX - 4, plotY + plotH - (v / ymax) * plotH, fmt(v), {
        "text-anchor": "end",
        "dominant-baseline": "middle",
        "font-size": 11,
      });
    });
    [0, h - 1].forEach(function (i3) {
      text(g, plotX + (i3 + 0.5) * slot, plotY + plotH + 13, String(i3), {
        "text-anchor": "middle",
        "font-size": 11,
      });
    });
    text(g, plotX + plotW / 2, plotY + plotH + 28, labels.head_axis, {
      "text-anchor": "middle",
      "font-size": 12,
    });
    text(g, plotX - 34, plotY + plotH / 2, labels.nats, {
      "text-anchor": "middle",
      "font-size": 12,
      transform: "rotate(-90 " + (plotX - 34) + " " + (plotY + plotH / 2) + ")",
    });
    var H = Math.max(avgBottom, plotY + plotH + 36) + 8;
    background.setAttribute("height", H);
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  }

  function describe(result, labels, data) {
    var mean = result.entropy.reduce(function (a, b) {
      return a + b;
    }, 0) / result.entropy.length;
    return labels.alt
      .replace("{h}", result.weights.length)
      .replace("{sentence}", data.sentences[result.view.sentence])
      .replace("{T}", result.tokens.length)
      .replace("{tau}", fmt(result.view.temperature))
      .replace("{mask}", labels["mask_" + result.view.mask])
      .replace("{entropy}", fmt(mean))
      .replace("{ceiling}", fmt(result.max_entropy));
  }

  function setup(root) {
    if (root.mhaExplorer) return;
    var data = JSON.parse(root.querySelector("script.mha-explorer-data").textContent);
    var labels = data.labels;
    var svg = root.querySelector("svg");
    var inputs = {
      num_heads: root.querySelector("[name=num_heads]"),
      sentence: root.querySelector("[name=sentence]"),
      seq_len: root.querySelector("[name=seq_len]"),
      temperature: root.querySelector("[name=temperature]"),
    };
    var maskInputs = Array.prototype.slice.call(root.querySelectorAll("[name=mask]"));
    var outputs = {
      num_heads: root.querySelector("output[data-for=num_heads]"),
      seq_len: root.querySelector("output[data-for=seq_len]"),
      temperature: root.querySelector("output[data-for=temperature]"),
    };
    var result = null;

    function view() {
      var mask = maskInputs.filter(function (m) {
        return m.checked;
      })[0];
      return {
        num_heads: data.head_counts[Number(inputs.num_heads.value)],
        sentence: Number(inputs.sentence.value),
        seq_len: Number(inputs.seq_len.value),
        temperature: data.temperatures[Number(inputs.temperature.value)],
        mask: mask ? mask.value : "none",
      };
    }

    function update() {
      // The token slider goes as far as the chosen sentence (and MAX_TOKENS).
      var n = tokenize(data.sentences[Number(inputs.sentence.value)]).length;
      inputs.seq_len.max = String(Math.min(data.max_tokens, n));
      if (Number(inputs.seq_len.value) > Number(inputs.seq_len.max)) {
        inputs.seq_len.value = inputs.seq_len.max;
      }
      var v = view();
      outputs.num_heads.textContent = String(v.num_heads);
      outputs.seq_len.textContent = String(v.seq_len);
      outputs.temperature.textContent = fmt(v.temperature);
      inputs.num_heads.setAttribute("aria-valuetext", v.num_heads + " heads");
      inputs.temperature.setAttribute("aria-valuetext", "τ = " + fmt(v.temperature));
      result = compute(data, v);
      draw(svg, data, result, labels);
      svg.setAttribute("aria-label", describe(result, labels, data));
    }

    Object.keys(inputs).forEach(function (key) {
      inputs[key].addEventListener("input", update);
      inputs[key].addEventListener("change", update);
    });
    maskInputs.forEach(function (m) {
      m.addEventListener("change", update);
    });
    root.mhaExplorer = {
      state: function () {
        return JSON.parse(JSON.stringify(result));
      },
      set: function (v) {
        if (v.num_heads !== undefined) {
          inputs.num_heads.value = String(data.head_counts.indexOf(v.num_heads));
        }
        if (v.sentence !== undefined) inputs.sentence.value = String(v.sentence);
        if (v.seq_len !== undefined) {
          update(); // the sentence first sets how far the token slider goes
          inputs.seq_len.value = String(v.seq_len);
        }
        if (v.temperature !== undefined) {
          inputs.temperature.value = String(data.temperatures.indexOf(v.temperature));
        }
        if (v.mask !== undefined) {
          maskInputs.forEach(function (m) {
            m.checked = m.value === v.mask;
          });
        }
        update();
        return this.state();
      },
    };
    update();
    root.setAttribute("data-ready", "true");
  }

  var roots = document.querySelectorAll(".mha-explorer");
  for (var r = 0; r < roots.length; r++) setup(roots[r]);
})();
