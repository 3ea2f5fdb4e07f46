//! The SAM template serves exactly the routes of the route table, and the local app
//! serves every one of them (no 404 or 405 where a route is listed).

use std::collections::BTreeSet;

use reqwest::Method;

use crate::helpers::spawn_app;
use crate::routes;

/// `(METHOD, path)` of every HttpApi event in infra/template.yaml. Events are written as
/// one-line flow mappings (`Properties: { ApiId: !Ref Api, Method: GET, Path: "/v1/x" }`).
fn template_routes() -> BTreeSet<(String, String)> {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("infra/template.yaml is readable");
    template
        .lines()
        .filter(|line| line.contains("Method:") && line.contains("Path:"))
        .map(|line| {
            let field = |name: &str| {
                let rest = &line[line.find(name).expect("field present") + name.len()..];
                let rest = rest.trim_start();
                match rest.strip_prefix('"') {
                    Some(quoted) => quoted.split('"').next().unwrap_or_default().to_owned(),
                    None => rest
                        .split([',', '}'])
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                }
            };
            (field("Method:"), field("Path:"))
        })
        .collect()
}

#[test]
fn the_template_routes_are_exactly_the_route_table() {
    let table: BTreeSet<(String, String)> = routes::all()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let template = template_routes();
    let missing: Vec<_> = table.difference(&template).collect();
    let extra: Vec<_> = template.difference(&table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not in the template: {missing:?}; not in the table: {extra:?}"
    );
}

#[tokio::test]
async fn every_listed_route_is_served_and_other_methods_are_405() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4().to_string();
    let table = routes::all();
    for route in &table {
        let path = route.path.replace("{id}", &id).replace("{name}", "mrr");
        let response = app.request(route.method.clone(), &path, None, None).await;
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{} {path} answered {status}",
            route.method
        );
    }
    let paths: BTreeSet<&str> = table.iter().map(|r| r.path).collect();
    for path in paths {
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            if table.iter().any(|r| r.path == path && r.method == method) {
                continue;
            }
            let response = app
                .request(method.clone(), &path.replace("{id}", &id), None, None)
                .await;
            assert_eq!(response.status(), 405, "{method} {path}");
        }
    }
}
