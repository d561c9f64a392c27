import Foundation

/// Reads a `repodata.json` document record by record, without building the document tree.
///
/// ``JSONValue/parse(_:)`` of a 250 MB `repodata.json` builds two dictionaries of hundreds of thousands of entries and
/// then every record is copied out of them; this reader walks the top-level object and hands each record of
/// `packages` and `packages.conda` to the caller as soon as it is parsed, so the records are built once and the
/// document never exists as a tree. The JSON rules are exactly those of ``JSONValue/parse(_:)`` (same errors, same
/// numbers and strings, duplicate keys keep the last value), and the whole document is validated.
public enum RepodataStream {
    /// The repodata section a record came from.
    public enum Section: Sendable {
        /// `packages` (`.tar.bz2` files).
        case packages
        /// `packages.conda` (`.conda` files).
        case packagesConda
    }

    /// What the document says besides its records.
    public struct Header: Sendable {
        /// `info.subdir`, if the document has a string there.
        public var subdir: String?
    }

    /// Parses `bytes` (a whole repodata document) and calls `record` for every member of `packages` and
    /// `packages.conda` whose value is an object, in document order, with the member's fields; `skippingKeys` are
    /// parsed (so the document is still validated) but left out of the fields. Members whose value is not an object
    /// are ignored. When a section appears twice, both are streamed (the caller decides which wins).
    ///
    /// - Returns: the document's header (`info.subdir`).
    /// - Throws: `SluiceError.invalidInput` (from the JSON rules, with the byte offset), also when the document is not
    ///   an object; or whatever `record` throws.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer,
        skippingKeys: Set<String> = [],
        record: (_ section: Section, _ filename: String, _ fields: [String: JSONValue]) throws(SluiceError) -> Void
    ) throws(SluiceError) -> Header {
        var parser = JSONByteParser(bytes.assumingMemoryBound(to: UInt8.self))
        return try parser.parseRepodata(skippingKeys: skippingKeys, record: record)
    }
}

extension JSONByteParser {
    mutating func parseRepodata(
        skippingKeys: Set<String>,
        record: (RepodataStream.Section, String, [String: JSONValue]) throws(SluiceError) -> Void
    ) throws(SluiceError) -> RepodataStream.Header {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else {
            throw error("expected the repodata object")
        }
        var header = RepodataStream.Header()
        try forEachMember { (parser, key) throws(SluiceError) in
            switch key {
            case "packages", "packages.conda":
                let section: RepodataStream.Section = key == "packages" ? .packages : .packagesConda
                guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "{") else {
                    _ = try parser.parseValue()
                    return
                }
                try parser.forEachMember { (parser, filename) throws(SluiceError) in
                    guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "{") else {
                        _ = try parser.parseValue()
                        return
                    }
                    let fields = try parser.parseFields(skippingKeys: skippingKeys)
                    try record(section, filename, fields)
                }
            case "info":
                let info = try parser.parseValue()
                header.subdir = info["subdir"]?.stringValue
            default:
                _ = try parser.parseValue()
            }
        }
        skipWhitespace()
        guard index == bytes.count else {
            throw error("unexpected data after the JSON value")
        }
        return header
    }

    /// Calls `body` for each member of the object starting at `index` (at its `{`), with the parser positioned at the
    /// member's value; `body` must consume exactly the value.
    mutating func forEachMember(
        _ body: (inout JSONByteParser, String) throws(SluiceError) -> Void
    ) throws(SluiceError) {
        depth += 1
        guard depth <= JSONValue.maximumParseDepth else {
            throw error("nesting deeper than \(JSONValue.maximumParseDepth) levels")
        }
        index += 1  // {
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in object") }
            guard bytes[index] == UInt8(ascii: "\"") else {
                throw error("expected a string key, found \(describe(bytes[index]))")
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw error("expected ':' after object key")
            }
            index += 1
            skipWhitespace()
            try body(&self, key)
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in object") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                depth -= 1
                return
            default:
                throw error("expected ',' or '}' in object, found \(describe(bytes[index]))")
            }
        }
    }

    /// Parses the object at `index` into a dictionary, leaving out `skippingKeys` (their values are still parsed).
    ///
    /// The members are collected first so that the dictionary is allocated once, at its final size.
    mutating func parseFields(skippingKeys: Set<String>) throws(SluiceError) -> [String: JSONValue] {
        var pairs = fieldScratch
        fieldScratch = []
        pairs.removeAll(keepingCapacity: true)
        let skipping = !skippingKeys.isEmpty
        try forEachMember { (parser, key) throws(SluiceError) in
            let value = try parser.parseValue()
            if skipping, skippingKeys.contains(key) { return }
            pairs.append((key, value))
        }
        var fields: [String: JSONValue] = Dictionary(minimumCapacity: pairs.count)
        for (key, value) in pairs {
            // A repeated key keeps its last value.
            fields[interner.intern(key)] = interner.intern(value, key: key)
        }
        pairs.removeAll(keepingCapacity: true)
        fieldScratch = pairs
        return fields
    }
}

/// Shares the storage of values that repeat across the records of one document: `depends` lists, dependency
/// strings, licenses, long keys. A 450,000-record subdir repeats the same `depends` array for every build of a
/// version; sharing one copy saves hundreds of megabytes. Values unique per record (hashes, build strings) are not
/// looked up, and strings of up to 15 bytes are stored inline by Swift anyway.
struct RepodataInterner {
    private var strings: [String: String] = [:]
    private var arrays: [[JSONValue]: [JSONValue]] = [:]

    /// Keys whose values are unique per record: interning them would only grow the table.
    private static let uniqueKeys: Set<String> = ["md5", "sha256", "build", "fn", "url", "legacy_bz2_md5", "timestamp"]

    mutating func intern(_ string: String) -> String {
        guard string.utf8.count > 15 else { return string }
        if let shared = strings[string] { return shared }
        strings[string] = string
        return string
    }

    mutating func intern(_ value: JSONValue, key: String) -> JSONValue {
        switch value {
        case .string(let string):
            guard string.utf8.count > 15, !Self.uniqueKeys.contains(key) else { return value }
            return .string(intern(string))
        case .array(let elements):
            // Only lists of strings: `==` on other values is looser than their written form (0.0 == -0.0).
            guard elements.allSatisfy({ if case .string = $0 { return true } else { return false } }) else {
                return value
            }
            if let shared = arrays[elements] { return .array(shared) }
            var interned = elements
            for index in interned.indices {
                if case .string(let string) = interned[index] { interned[index] = .string(intern(string)) }
            }
            arrays[elements] = interned
            return .array(interned)
        default:
            return value
        }
    }
}
