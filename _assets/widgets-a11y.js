// Accessible names and states for the saved ipywidgets that the HTML manager draws.
// Generic: it knows widget kinds, not chapters. An axe-core audit found
//   * slider handles (role=slider) without a name: they get the widget's
//     description label as their name, and the readout's text (what the reader
//     sees, e.g. "8 heads") as their value text;
//   * the editable readout beside a slider with no name or role;
//   * toggle buttons whose pressed state was colour only: aria-pressed follows it,
//     and the group is named by its label;
//   * widget images without alt text: when the Python side gave none, an image
//     shown in a tab is described by its tab's title and any other one by the
//     controls that drew it;
//   * labels with the tooltip text "null".
// Runs once the widgets render and again whenever they change.
(function () {
  "use strict";
  var serial = 0;

  function labelOf(widget) {
    var label = widget.querySelector(":scope > .widget-label");
    return label && label.textContent.trim() ? label : null;
  }

  function idOf(element) {
    if (!element.id) {
      serial += 1;
      element.id = "mha-widget-label-" + serial;
    }
    return element.id;
  }

  function fixSlider(widget) {
    var label = labelOf(widget);
    var readout = widget.querySelector(".widget-readout");
    widget.querySelectorAll("[role=slider]").forEach(function (handle) {
      if (label && !handle.hasAttribute("aria-labelledby")) {
        handle.setAttribute("aria-labelledby", idOf(label));
      }
      if (readout && !handle.dataset.mhaValueText) {
        handle.dataset.mhaValueText = "1";
        var sync = function () {
          var text = readout.textContent.trim();
          if (text && handle.getAttribute("aria-valuetext") !== text) {
            handle.setAttribute("aria-valuetext", text);
          }
        };
        sync();
        new MutationObserver(sync).observe(readout, {
          childList: true, characterData: true, subtree: true,
        });
        new MutationObserver(sync).observe(handle, {
          attributes: true, attributeFilter: ["aria-valuetext"],
        });
      }
    });
    if (readout && readout.isContentEditable && !readout.hasAttribute("role")) {
      readout.setAttribute("role", "textbox");
      readout.setAttribute(
        "aria-label", (label ? label.textContent.trim() + ": " : "") + "value");
    }
  }

  function fixToggle(button) {
    var pressed = button.classList.contains("mod-active") ? "true" : "false";
    if (button.getAttribute("aria-pressed") !== pressed) {
      button.setAttribute("aria-pressed", pressed);
    }
    if (!button.dataset.mhaPressed) {
      button.dataset.mhaPressed = "1";
      new MutationObserver(function () { fixToggle(button); }).observe(button, {
        attributes: true, attributeFilter: ["class"],
      });
    }
  }

  function fixToggleGroup(widget) {
    var label = labelOf(widget);
    if (!widget.hasAttribute("role")) {
      widget.setAttribute("role", "group");
      if (label) { widget.setAttribute("aria-labelledby", idOf(label)); }
    }
  }

  function controlsSummary(image) {
    // The values of the controls that share a box with the image.
    for (var box = image.parentElement; box; box = box.parentElement) {
      var parts = [];
      box.querySelectorAll(".widget-slider, .widget-dropdown, .widget-toggle-buttons")
        .forEach(function (widget) {
          var label = labelOf(widget);
          var value = widget.querySelector(".widget-readout, select, .mod-active");
          var text = "";
          if (value && value.tagName === "SELECT") {
            // Nothing is selected yet while the widget is still rendering.
            var chosen = value.options[value.selectedIndex];
            text = chosen ? chosen.text : "";
          } else if (value) {
            text = value.textContent;
          }
          if (label && text) {
            parts.push(label.textContent.trim() + " = " + text.trim());
          }
        });
      if (parts.length) { return parts.join(", "); }
      if (box.classList.contains("cell_output")) { break; }
    }
    return "";
  }

  function describeImage(image) {
    if (image.hasAttribute("alt")) { return; }
    var page = image.closest(".widget-tab-contents > *");
    var tab = page && page.parentElement.closest(".widget-tab, .jupyter-widget-tab");
    if (tab) {
      var pages = Array.prototype.slice.call(page.parentElement.children);
      var titles = tab.querySelectorAll("[role=tab] .lm-TabBar-tabLabel");
      var title = titles[pages.indexOf(page)];
      if (title && title.textContent.trim()) {
        image.setAttribute("alt", "Picture for " + title.textContent.trim());
        return;
      }
    }
    var summary = controlsSummary(image);
    image.setAttribute("alt", summary
      ? "Figure drawn for " + summary
      : "Figure drawn by the interactive control above it");
  }

  function fix(root) {
    root.querySelectorAll(".widget-label[title='null']").forEach(function (label) {
      label.removeAttribute("title");
    });
    root.querySelectorAll(".widget-slider").forEach(fixSlider);
    root.querySelectorAll(".widget-toggle-buttons").forEach(fixToggleGroup);
    root.querySelectorAll(".widget-toggle-button").forEach(fixToggle);
    root.querySelectorAll(
      "img.widget-image, .jupyter-widgets img, .widget-output img"
    ).forEach(describeImage);
  }

  var queued = false;
  function schedule() {
    if (queued) { return; }
    queued = true;
    window.requestAnimationFrame(function () {
      queued = false;
      fix(document);
    });
  }

  function start() {
    fix(document);
    new MutationObserver(schedule).observe(document.body, {
      childList: true, subtree: true,
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
