//! The dependency rules of DESIGN.md, checked on the source tree: which top-level module may
//! use which. A `use crate::store` slipped into a connector, or a circle between two modules,
//! fails here with the file that did it, before it can grow into the layout.
//!
//! The check reads `src/` as text: every `crate::<module>` outside comments and outside
//! `#[cfg(test)]` modules is an edge from the file's top-level module to `<module>`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::helpers::repo;

/// Top-level module -> (module it uses -> files that use it).
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn graph() -> Graph {
    let mut graph = Graph::new();
    let src = repo().join("src");
    visit(&src, &src, &mut graph);
    graph
}

fn visit(src: &Path, dir: &Path, graph: &mut Graph) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            visit(src, &path, graph);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let module = relative
            .trim_end_matches(".rs")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let used: String = line[i + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !used.is_empty() && used != module {
                    graph
                        .entry(module.clone())
                        .or_default()
                        .entry(used)
                        .or_default()
                        .insert(relative.clone());
                }
            }
        }
    }
}

fn uses<'a>(graph: &'a Graph, module: &str) -> BTreeMap<&'a str, &'a BTreeSet<String>> {
    graph
        .get(module)
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

#[test]
fn each_layer_uses_only_what_design_allows() {
    let graph = graph();
    // module -> the modules it may use.
    let allowed: &[(&str, &[&str])] = &[
        ("domain", &[]),
        ("frames", &["domain"]),
        ("validation", &[]),
        ("secrets", &["validation"]),
        ("http", &["domain", "secrets"]),
        (
            "sources",
            &["domain", "frames", "http", "secrets", "validation"],
        ),
        ("alerts", &["domain", "http", "secrets", "validation"]),
        ("store", &["domain", "frames"]),
        ("analysis", &["domain"]),
    ];
    let mut broken = Vec::new();
    for (module, may_use) in allowed {
        for (used, files) in uses(&graph, module) {
            if !may_use.contains(&used) {
                broken.push(format!("{module} uses {used} in {files:?}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layers break DESIGN.md's one-way rule:\n{}",
        broken.join("\n")
    );
}

#[test]
fn no_two_modules_depend_on_each_other_even_through_others() {
    let graph = graph();
    fn walk(graph: &Graph, path: &mut Vec<String>, circles: &mut BTreeSet<String>) {
        let Some(last) = path.last().cloned() else {
            return;
        };
        for next in graph.get(&last).into_iter().flat_map(|m| m.keys()) {
            if let Some(start) = path.iter().position(|m| m == next) {
                let mut circle = path[start..].to_vec();
                circle.push(next.clone());
                circles.insert(circle.join(" -> "));
            } else {
                path.push(next.clone());
                walk(graph, path, circles);
                path.pop();
            }
        }
    }
    let mut circles = BTreeSet::new();
    for module in graph.keys() {
        walk(&graph, &mut vec![module.clone()], &mut circles);
    }
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

#[test]
fn the_check_sees_the_edges_it_guards() {
    // Without this, a parser that found nothing would pass both checks above.
    let graph = graph();
    assert!(uses(&graph, "sources").contains_key("http"));
    assert!(uses(&graph, "store").contains_key("domain"));
    assert!(uses(&graph, "pipeline").contains_key("store"));
}
