//! Interop tests that run with either parser, against a server of the same.

use sioclient::{ClientBuilder, Parser};

use super::ServerOptions;

/// Runs a test with either parser: a module named after the test, with a
/// test for each (`default_parser`, `msgpack`) running the body with
/// `$parser` bound. The calling file imports `Parser`.
macro_rules! both_parsers {
    ($name:ident, |$parser:ident| $body:block) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn default_parser() {
                run(Parser::Default).await
            }

            #[tokio::test]
            async fn msgpack() {
                run(Parser::MsgPack).await
            }

            async fn run($parser: Parser) $body
        }
    };
}

pub(crate) use both_parsers;

/// The bundled server's options for `parser`.
pub fn options(parser: Parser) -> ServerOptions {
    match parser {
        Parser::MsgPack => ServerOptions::default().arg("--parser").arg("msgpack"),
        _ => ServerOptions::default(),
    }
}

/// A client of `url` with `parser`.
pub fn builder(url: &str, parser: Parser) -> ClientBuilder {
    ClientBuilder::new(url).parser(parser)
}
