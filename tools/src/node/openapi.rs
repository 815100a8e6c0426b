//! `GET /openapi.json`, built from the node's route table ([`super::api::Route`]: each route's
//! method, path and [`Doc`]) with utoipa's types, and the schemas of the node's own bodies derived
//! from the types that serialize them; the Swagger UI at `/docs` (its files inside the binary).
//!
//! The table, not an attribute on each handler, is the one declaration: it also builds the
//! router, and one generic handler serves every view route (`api::VIEWS`).

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ComponentsBuilder, ObjectBuilder, Ref, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, RefOr, Required};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::api::{AppState, BatchResult, Doc, ErasureBody, ErrorBody, ErrorDetail, Health, Media, QueryBody, Route};
use crate::served::Progress;
use crate::session::Written;

/// Where the Swagger UI is served.
pub(crate) const DOCS: &str = "/docs";

/// The Swagger UI, reading the node's own `/openapi.json` (and nothing from elsewhere: no
/// validator).
pub(crate) fn swagger_ui() -> axum::Router<AppState> {
    SwaggerUi::new(DOCS).config(Config::from("/openapi.json").validator_url("none")).into()
}

/// The document for `routes`.
pub(crate) fn document(routes: &[Route]) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in routes {
        let method = match route.method {
            "POST" => HttpMethod::Post,
            _ => HttpMethod::Get,
        };
        paths = paths.path(route.path, PathItem::new(method, operation(route.path, &route.doc)));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("mindlog node")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("The HTTP API of `mindlog node` (docs/api.md in the repository)."))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components()))
        .security(Some(vec![SecurityRequirement::new("token", Vec::<String>::new())]))
        .build()
}

fn operation(path: &str, doc: &Doc) -> utoipa::openapi::path::Operation {
    let mut op = OperationBuilder::new().summary(Some(doc.summary.as_ref()));
    let string = || ObjectBuilder::new().schema_type(Type::String).build();
    for name in path.split('/').filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}')) {
        op = op.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(string())),
        );
    }
    for (name, meaning) in doc.query {
        op = op.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(*meaning))
                .schema(Some(string())),
        );
    }
    if let Some(request) = doc.request {
        op = op.request_body(Some(
            RequestBodyBuilder::new().required(Some(Required::True)).content(request.0, content(request)).build(),
        ));
    }
    let error = ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build();
    op.response("200", ResponseBuilder::new().description("Success").content(doc.answer.0, content(doc.answer)).build())
        .response(
            "default",
            ResponseBuilder::new()
                .description("An error: 400 bad input, 401 no token, 403 refused, 404 unknown, 409 rejected or head moved, 413 too large, 415 wrong media type, 422 refused by a rule")
                .content("application/json", error)
                .build(),
        )
        .build()
}

/// A body's content: its schema when it names one (`NAME[]`: an array of them).
fn content(media: Media) -> utoipa::openapi::Content {
    let schema: Option<RefOr<Schema>> = media.1.map(|name| match name.strip_suffix("[]") {
        Some(item) => ArrayBuilder::new().items(Ref::from_schema_name(item)).build().into(),
        None => Ref::from_schema_name(name).into(),
    });
    ContentBuilder::new().schema(schema).build()
}

/// Every schema a route names, and the token.
fn components() -> utoipa::openapi::Components {
    // A command's JSON form is its name and its arguments (docs/commands.md lists each).
    let command = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .description(Some(
            "A command's JSON form, as `mindlog submit` takes it: `command` names it, the other fields are its \
             arguments (docs/commands.md); `expect_head`, if given, is the seq your feed's head must be at",
        ))
        .property("command", ObjectBuilder::new().schema_type(Type::String))
        .required("command")
        .property("expect_head", ObjectBuilder::new().schema_type(Type::Integer))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .build();
    ComponentsBuilder::new()
        .schema("Command", command)
        .schema_from::<ErrorBody>()
        .schema_from::<ErrorDetail>()
        .schema_from::<Written>()
        .schema_from::<BatchResult>()
        .schema_from::<Health>()
        .schema_from::<QueryBody>()
        .schema_from::<ErasureBody>()
        .schema_from::<Progress>()
        .security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The token in the home's node.token"))
                    .build(),
            ),
        )
        .build()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// Every route of the table is in the document with its method, and every schema an
    /// operation names is among the components.
    #[test]
    fn every_route_and_schema_is_in_the_document() {
        let routes = super::super::api::table();
        let document = serde_json::to_value(super::document(&routes)).unwrap();
        for route in &routes {
            let operation = &document["paths"][route.path][route.method.to_ascii_lowercase()];
            assert!(operation.is_object(), "{} {} is missing from /openapi.json", route.method, route.path);
            assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{} has no summary", route.path);
        }
        assert!(routes.len() >= 25, "{} routes", routes.len());
        let text = document.to_string();
        let schemas = &document["components"]["schemas"];
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(schemas[name].is_object(), "{name} is named but not defined");
        }
        assert!(schemas["Written"]["properties"]["hash"].is_object(), "{schemas}");
    }
}
