//! Closed vocabularies (roles, categories, stages, …) as enums that parse from and print
//! to the exact words of the API and the database, and id newtypes.
//!
//! Both are stored as SQL text. With the `diesel` feature (the server's), one generated set of
//! `ToSql`/`FromSql` impls per type lets queries bind and load them directly, so no code reads
//! a vocabulary or an id as a bare string; without it (the client's) nothing of diesel is
//! compiled in.

/// A value stored as SQL text: what the server binds for it.
pub trait AsText {
    fn as_text(&self) -> &str;
}

/// The diesel impls that store a type as text, when the server asks for them (the `diesel`
/// feature): `$to` borrows it as `&str`, `$from` makes it from a `String` (or says why it
/// cannot). The server adds the impl for its own multi-backend connection from [`AsText`].
macro_rules! stored_as_text {
    ($name:ty, |$v:ident| $to:expr, |$s:ident| $from:expr) => {
        impl $crate::vocabulary::AsText for $name {
            fn as_text(&self) -> &str {
                let $v = self;
                $to
            }
        }

        #[cfg(feature = "diesel")]
        impl ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::sqlite::Sqlite>
            for $name
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut ::diesel::serialize::Output<'b, '_, ::diesel::sqlite::Sqlite>,
            ) -> ::diesel::serialize::Result {
                let $v = self;
                <str as ::diesel::serialize::ToSql<
                    ::diesel::sql_types::Text,
                    ::diesel::sqlite::Sqlite,
                >>::to_sql($to, out)
            }
        }

        #[cfg(feature = "diesel")]
        impl ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut ::diesel::serialize::Output<'b, '_, ::diesel::pg::Pg>,
            ) -> ::diesel::serialize::Result {
                let $v = self;
                <str as ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg>>::to_sql(
                    $to, out,
                )
            }
        }

        #[cfg(feature = "diesel")]
        impl<DB> ::diesel::deserialize::FromSql<::diesel::sql_types::Text, DB> for $name
        where
            DB: ::diesel::backend::Backend,
            String: ::diesel::deserialize::FromSql<::diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> ::diesel::deserialize::Result<Self> {
                let $s = <String as ::diesel::deserialize::FromSql<
                    ::diesel::sql_types::Text,
                    DB,
                >>::from_sql(bytes)?;
                // A value the code does not know is a corrupt row, never a default.
                $from.map_err(|e: String| format!("unexpected stored value: {e}").into())
            }
        }
    };
}
pub(crate) use stored_as_text;

macro_rules! string_enum_impl {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema,
        )]
        #[cfg_attr(
            feature = "diesel",
            derive(::diesel::AsExpression, ::diesel::FromSqlRow),
            diesel(sql_type = ::diesel::sql_types::Text)
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(format!(
                        "{other:?} is not one of: {}",
                        [$($text),*].join(", ")
                    )),
                }
            }
        }

        $crate::vocabulary::stored_as_text!($name, |v| v.as_str(), |s| s.parse::<$name>());
    };
}
pub(crate) use string_enum_impl as string_enum;

/// An opaque id (a UUID as text), typed by what it names, so that a query's id cannot be
/// passed where an account's is expected.
macro_rules! id_type_impl {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        #[cfg_attr(
            feature = "diesel",
            derive(::diesel::AsExpression, ::diesel::FromSqlRow),
            diesel(sql_type = ::diesel::sql_types::Text)
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new random id.
            pub fn generate() -> Self {
                $name(::uuid::Uuid::new_v4().to_string())
            }

            /// An id as a client or a row gave it; whether it names anything is for the
            /// database to say.
            pub fn from_string(id: String) -> Self {
                $name(id)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                <String as ::utoipa::PartialSchema>::schema()
            }
        }

        impl ::utoipa::ToSchema for $name {}

        $crate::vocabulary::stored_as_text!(
            $name,
            |v| v.0.as_str(),
            |s| Ok::<_, String>($name(s))
        );
    };
}
pub(crate) use id_type_impl as id_type;
