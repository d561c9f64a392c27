import Foundation

/// The archive format of a conda package file.
public enum PackageFormat: String, Sendable, Hashable, Codable {
    /// A `.conda` file (v2: a zip of zstd tarballs); listed under `packages.conda` in repodata.
    case conda
    /// A `.tar.bz2` file (v1); listed under `packages` in repodata.
    case tarBz2 = "tar.bz2"

    public var fileExtension: String { "." + rawValue }
}

/// A package file name `<name>-<version>-<build>.<ext>`, split as conda and rattler split it (on the last two `-`).
public struct PackageFilename: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var version: String
    public var build: String
    public var format: PackageFormat

    /// The file name without its extension: `<name>-<version>-<build>`.
    public var stem: String { "\(name)-\(version)-\(build)" }
    public var description: String { stem + format.fileExtension }

    public init(name: String, version: String, build: String, format: PackageFormat) {
        self.name = name
        self.version = version
        self.build = build
        self.format = format
    }

    /// Parses a file name; returns nil when it is not `<name>-<version>-<build>.conda|.tar.bz2` with three non-empty
    /// parts, or when it contains a path separator.
    public init?(_ filename: String) {
        let format: PackageFormat
        let stem: Substring
        if filename.hasSuffix(".conda") {
            format = .conda
            stem = filename.dropLast(6)
        } else if filename.hasSuffix(".tar.bz2") {
            format = .tarBz2
            stem = filename.dropLast(8)
        } else {
            return nil
        }
        guard !filename.contains("/"), !filename.contains("\\"), filename.count <= 211 else { return nil }
        guard let buildDash = stem.lastIndex(of: "-") else { return nil }
        let build = stem[stem.index(after: buildDash)...]
        let nameAndVersion = stem[..<buildDash]
        guard let versionDash = nameAndVersion.lastIndex(of: "-") else { return nil }
        let version = nameAndVersion[nameAndVersion.index(after: versionDash)...]
        let name = nameAndVersion[..<versionDash]
        guard !name.isEmpty, !version.isEmpty, !build.isEmpty else { return nil }
        self.init(name: String(name), version: String(version), build: String(build), format: format)
    }
}

/// One package file's repodata record: the JSON object conda clients read from `repodata.json`, keyed there by
/// ``filename``.
///
/// `fields` holds every key as published (from `info/index.json` minus the keys conda-index strips, plus `md5`,
/// `sha256` and `size`), so nothing a package or an upstream carries is lost.
public struct PackageRecord: Hashable, Sendable {
    public var filename: String
    public var fields: [String: JSONValue]

    public init(filename: String, fields: [String: JSONValue]) {
        self.filename = filename
        self.fields = fields
    }

    public var name: String { fields["name"]?.stringValue ?? "" }
    public var version: String { fields["version"]?.stringValue ?? "" }
    public var build: String { fields["build"]?.stringValue ?? "" }
    public var buildNumber: Int64 { fields["build_number"]?.intValue ?? 0 }
    public var subdir: String { fields["subdir"]?.stringValue ?? "" }
    public var sha256: String { fields["sha256"]?.stringValue ?? "" }
    public var md5: String { fields["md5"]?.stringValue ?? "" }
    public var size: Int64 { fields["size"]?.intValue ?? 0 }
    public var depends: [String] { fields["depends"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    public var format: PackageFormat { filename.hasSuffix(".conda") ? .conda : .tarBz2 }
}
