//! SysFlow Avro: the v5 schema, the binary datum codec, and object container files.

mod binary;
mod container;
mod generic;
mod layout;
mod schema;

pub use binary::{DecodeError, decode_datum, encode_datum, encode_record};
pub use container::{AvroCodec, AvroFileWriter, SfReader, sf_files_in};
pub use schema::schema_v5;
