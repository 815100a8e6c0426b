//! Commands: what a user or an application asks for, before it is decided into events.
//!
//! Each command is a struct in its domain's module (`persona.rs`, `market.rs`, `social.rs`,
//! `reputation.rs`, `audit.rs`), beside the payloads of the events it becomes, with its rule as
//! an impl of `Decide`. The `commands!` list (in `catalog.rs`, beside the `events!` list) declares each command once with its JSON
//! name, and derives from it the [`Command`] enum, [`Command::name`], [`Command::NAMES`],
//! `From<X> for Command`, and the dispatch to each command's rule — so a command without a rule
//! does not compile.
//!
//! The JSON form (`mindlog submit`) is the command's fields with `"command"` beside them.
//! Entities are referred to as people type them: a persona by its name among the author's
//! personas, or by its id or an unambiguous id prefix (4 hex characters or more); a commitment
//! or memory by its id or an id prefix within its persona; a listing, booking, report or request
//! by its id or an id prefix; a guild by its name (when unique) or id; an author by public key.

macro_rules! commands {
    ($( $name:literal => $ty:ident ),* $(,)?) => {
        /// Every command, tagged by its name. The JSON form is the command's fields with
        /// `"command"` beside them, e.g. `{"command": "persona.create", "name": "Echo"}`.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "command")]
        #[non_exhaustive]
        pub enum Command {
            $(
                #[doc = concat!("`", $name, "`: [`", stringify!($ty), "`]")]
                #[serde(rename = $name)]
                $ty($ty),
            )*
        }

        impl Command {
            /// Every command's name, as in its JSON form.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// The command's name, as in its JSON form.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Command::$ty(_) => $name,)*
                }
            }
        }

        impl Decide for Command {
            fn decide(&self, cx: &Context<'_>) -> Decided {
                match self {
                    $(Command::$ty(command) => command.decide(cx),)*
                }
            }
        }

        $(
            impl From<$ty> for Command {
                fn from(command: $ty) -> Command {
                    Command::$ty(command)
                }
            }
        )*
    };
}
pub(crate) use commands;
