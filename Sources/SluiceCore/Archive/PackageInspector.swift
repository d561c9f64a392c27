import Crypto
import Foundation

/// What ``PackageInspector`` learned from one package file.
public struct InspectedPackage: Sendable {
    /// The repodata record: `info/index.json` minus the keys conda-index strips, with `depends` always present,
    /// `subdir` always present, and `md5`, `sha256` and `size` of the whole file.
    public var record: PackageRecord
    /// The subdir the package belongs in (`record.subdir`).
    public var subdir: String
    /// The per-package fields `channeldata.json` wants, from `info/about.json`, `info/index.json`,
    /// `info/run_exports.json` and `info/paths.json`: `home`, `dev_url`, `doc_url`, `doc_source_url`, `license`,
    /// `summary`, `description`, `source_url`, `icon_url`, `keywords`, `tags`, `identifiers` when present;
    /// always `run_exports` (an object, `{}` when the package has none) and the booleans `binary_prefix`,
    /// `text_prefix`, `activate.d`, `deactivate.d`, `pre_link`, `post_link`, `pre_unlink`.
    public var channelData: [String: JSONValue]

    public init(record: PackageRecord, subdir: String, channelData: [String: JSONValue]) {
        self.record = record
        self.subdir = subdir
        self.channelData = channelData
    }
}

/// Validates a conda package file (`.conda` or `.tar.bz2`) and builds its repodata record, as conda-index does.
///
/// Used by the upload path (`POST` of a package to a hosted feed) on the temporary file before it is stored. Only the
/// metadata part of the archive is decompressed (the `info-*.tar.zst` member of a `.conda`, the leading `info/`
/// members of a `.tar.bz2`), with limits on every size so that a crafted upload cannot exhaust memory or time; the
/// whole file is then hashed once for `md5` and `sha256`.
public struct PackageInspector: Sendable {
    /// Limits on how much metadata is read.
    public struct Configuration: Sendable, Hashable {
        /// The largest single `info/` member (such as `info/index.json`) that is read, in bytes. A larger
        /// `info/paths.json` is skipped (its channeldata booleans stay false); any other larger member is refused.
        public var maxMemberSize: Int
        /// The most decompressed bytes of the info stream scanned before giving up, in bytes.
        public var maxInfoSize: Int

        /// - Parameters:
        ///   - maxMemberSize: defaults to 16 MiB.
        ///   - maxInfoSize: defaults to 256 MiB.
        public init(maxMemberSize: Int = 16 * 1024 * 1024, maxInfoSize: Int = 256 * 1024 * 1024) {
            self.maxMemberSize = maxMemberSize
            self.maxInfoSize = maxInfoSize
        }
    }

    /// The keys of `info/index.json` that conda-index leaves out of repodata (`conda_index/index/cache.py`).
    public static let strippedIndexKeys: Set<String> = [
        "arch", "platform", "has_prefix", "mtime", "ucs", "requires_features", "binstar", "target-triplet",
        "machine", "operatingsystem",
    ]

    /// The `about.json`/`index.json` keys copied into ``InspectedPackage/channelData`` (conda-index's channeldata
    /// fields that a package file can supply).
    public static let channelDataKeys: [String] = [
        "home", "dev_url", "doc_url", "doc_source_url", "license", "summary", "description", "source_url",
        "source_git_url", "icon_url", "keywords", "tags", "identifiers",
    ]

    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Reads, validates and hashes the package at `file`, which was uploaded as `filename`.
    ///
    /// - Parameters:
    ///   - file: the package bytes on local disk (for uploads, the temporary `.part` file).
    ///   - filename: the name the package will be published under, `<name>-<version>-<build>.conda|.tar.bz2`; it
    ///     must agree with the archive format and with `name`, `version` and `build` in `info/index.json`.
    /// - Throws: `SluiceError.invalidPackage` with a message saying what is wrong and how to fix it: a bad file name
    ///   or extension, an empty file, not a conda archive, a truncated or corrupt archive, a missing or invalid
    ///   `info/index.json`, a name/version/build that differs from the file name, an entry with an absolute path or
    ///   `..`, or metadata over the configured limits. `SluiceError.notFound` or `.storageFailure` when the file
    ///   cannot be read.
    public func inspect(file: URL, filename: String) throws(SluiceError) -> InspectedPackage {
        guard let parsedName = PackageFilename(filename) else {
            if !(filename.hasSuffix(".conda") || filename.hasSuffix(".tar.bz2")) {
                throw .invalidPackage(
                    "The file name '\(filename)' does not end in .conda or .tar.bz2; conda packages use only those "
                        + "two formats.")
            }
            throw .invalidPackage(
                "The file name '\(filename)' is not <name>-<version>-<build>.conda or .tar.bz2 (three non-empty "
                    + "parts separated by '-', no '/'). Use the name conda-build or rattler-build gave the file.")
        }
        let archive = try ArchiveFile(url: file)
        guard archive.size > 0 else {
            throw .invalidPackage("The file '\(filename)' is empty. Upload the package's bytes.")
        }
        let magic = try archive.read(at: 0, upTo: 4)
        let detected: PackageFormat
        if magic.starts(with: [0x50, 0x4B, 0x03, 0x04]) || magic.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            detected = .conda
        } else if magic.starts(with: [0x42, 0x5A, 0x68]) {
            detected = .tarBz2
        } else {
            throw .invalidPackage(
                "'\(filename)' is not a conda package: it starts with neither the zip signature of a .conda nor the "
                    + "bzip2 signature of a .tar.bz2.")
        }
        guard detected == parsedName.format else {
            throw .invalidPackage(
                "'\(filename)' is named \(parsedName.format.fileExtension) but its content is a "
                    + "\(detected.fileExtension) package. Rename it to \(parsedName.stem)\(detected.fileExtension).")
        }

        let members: InfoMembers
        do {
            switch detected {
            case .conda: members = try readCondaInfo(archive, stem: parsedName.stem)
            case .tarBz2: members = try readTarBz2Info(archive)
            }
        } catch {
            throw Self.asInvalidPackage(error, context: "'\(filename)'")
        }

        let index = try Self.validatedIndex(members.indexJSON, filename: parsedName)
        var fields = index.filter { !Self.strippedIndexKeys.contains($0.key) }
        if fields["depends"] == nil || fields["depends"] == .null { fields["depends"] = .array([]) }
        if fields["constrains"] == .null { fields["constrains"] = nil }
        let subdir = try Self.subdir(of: index)
        fields["subdir"] = .string(subdir)

        let digests = try Self.digests(of: archive)
        fields["md5"] = .string(digests.md5)
        fields["sha256"] = .string(digests.sha256)
        fields["size"] = .int(Int64(archive.size))

        let channelData = try Self.channelData(index: index, members: members)
        return InspectedPackage(
            record: PackageRecord(filename: filename, fields: fields), subdir: subdir, channelData: channelData)
    }

    // MARK: - Reading the info members

    private struct InfoMembers {
        var indexJSON: [UInt8]
        var aboutJSON: [UInt8]?
        var runExportsJSON: [UInt8]?
        var pathsJSON: [UInt8]?
    }

    private static let indexPath = "info/index.json"
    private static let aboutPath = "info/about.json"
    private static let runExportsPath = "info/run_exports.json"
    private static let pathsPath = "info/paths.json"

    private func readCondaInfo(_ archive: ArchiveFile, stem: String) throws(SluiceError) -> InfoMembers {
        let zip = try ZipReader(file: archive)
        let infoName = "info-\(stem).tar.zst"
        let packageName = "pkg-\(stem).tar.zst"
        guard let infoEntry = zip.entry(named: infoName) else {
            if let other = zip.entries.first(where: { $0.name.hasPrefix("info-") && $0.name.hasSuffix(".tar.zst") }) {
                throw .invalidPackage(
                    "The .conda holds '\(other.name)' but not '\(infoName)': the file was renamed after it was "
                        + "built. Upload it under its original name.")
            }
            throw .invalidPackage(
                "The .conda has no '\(infoName)' member, so it is not a conda v2 package (found: "
                    + "\(zip.entries.map(\.name).joined(separator: ", "))).")
        }
        guard let packageEntry = zip.entry(named: packageName) else {
            throw .invalidPackage("The .conda has no '\(packageName)' member; it is incomplete.")
        }
        guard let metadataEntry = zip.entry(named: "metadata.json") else {
            throw .invalidPackage("The .conda has no 'metadata.json' member, so it is not a conda v2 package.")
        }
        // Checks that the payload member is stored and lies inside the file; its content is not read.
        _ = try zip.dataRange(of: packageEntry)
        let metadataBytes = try zip.contents(of: metadataEntry, maxSize: configuration.maxMemberSize)
        let metadata: JSONValue
        do {
            metadata = try JSONValue.parse(metadataBytes)
        } catch {
            throw .invalidPackage("The .conda's metadata.json is not valid JSON: \(error.message)")
        }
        guard let object = metadata.objectValue else {
            throw .invalidPackage("The .conda's metadata.json is not a JSON object.")
        }
        if let version = object["conda_pkg_format_version"], version.intValue != 2 {
            throw .invalidPackage(
                "The .conda's metadata.json says conda_pkg_format_version \(version); only version 2 is supported.")
        }
        let source = DecompressingSource(
            upstream: try zip.source(for: infoEntry), decompressor: try ZstdDecompressor())
        return try scanInfo(source, stopAtPayload: false, streamName: "the info tarball \(infoName)")
    }

    private func readTarBz2Info(_ archive: ArchiveFile) throws(SluiceError) -> InfoMembers {
        // The scan below stops after info/, so check the end of the file for the bzip2 end-of-stream marker: a
        // truncated upload fails here instead of being published.
        let tailLength = Int(min(archive.size, 16))
        let tail = try archive.read(at: archive.size - UInt64(tailLength), exactly: tailLength, what: "the bzip2 end")
        guard Self.endsWithBzip2StreamEnd(tail) else {
            throw .invalidPackage(
                "The .tar.bz2 does not end with a bzip2 end-of-stream marker, so it is truncated or has trailing "
                    + "garbage. Upload the complete, unmodified file.")
        }
        let source = DecompressingSource(
            upstream: FileRangeSource(file: archive, range: 0..<archive.size), decompressor: try Bzip2Decompressor())
        return try scanInfo(source, stopAtPayload: true, streamName: "the .tar.bz2")
    }

    /// Whether `tail` (the last bytes of a file) ends with a bzip2 end-of-stream block: the 48-bit magic
    /// `0x177245385090`, the 32-bit combined CRC, then 0 to 7 padding bits. The marker is not byte-aligned.
    static func endsWithBzip2StreamEnd(_ tail: [UInt8]) -> Bool {
        let totalBits = tail.count * 8
        for padding in 0..<8 {
            let start = totalBits - padding - 80
            guard start >= 0 else { break }
            var value: UInt64 = 0
            for bit in start..<(start + 48) {
                value = value << 1 | UInt64(tail[bit / 8] >> (7 - UInt8(bit % 8)) & 1)
            }
            if value == 0x1772_4538_5090 { return true }
        }
        return false
    }

    /// Reads the wanted `info/` members from a tar stream, stopping as soon as all are read, or (for `.tar.bz2`,
    /// where `info/` comes first) at the first payload member after `info/index.json`.
    private func scanInfo(
        _ source: some ByteSource, stopAtPayload: Bool, streamName: String
    ) throws(SluiceError) -> InfoMembers {
        var tar = TarReader(source: LimitedSource(upstream: source, limit: configuration.maxInfoSize, name: streamName))
        var wanted: Set<String> = [Self.indexPath, Self.aboutPath, Self.runExportsPath, Self.pathsPath]
        var found: [String: [UInt8]] = [:]
        while !wanted.isEmpty, let entry = try tar.next() {
            if stopAtPayload, found[Self.indexPath] != nil, !entry.path.hasPrefix("info/") { break }
            guard wanted.contains(entry.path) else { continue }
            wanted.remove(entry.path)
            guard entry.kind == .file else {
                if entry.path == Self.indexPath {
                    throw .invalidPackage("info/index.json in \(streamName) is not a regular file.")
                }
                continue
            }
            if entry.path == Self.pathsPath && entry.size > configuration.maxMemberSize {
                continue  // only feeds the optional channeldata booleans
            }
            guard entry.size <= configuration.maxMemberSize else {
                throw .invalidPackage(
                    "\(entry.path) in \(streamName) is \(entry.size) bytes, over the \(configuration.maxMemberSize)-"
                        + "byte limit for package metadata; the package is malformed or a decompression bomb.")
            }
            found[entry.path] = try tar.readContents(maxSize: configuration.maxMemberSize)
        }
        guard let index = found[Self.indexPath] else {
            throw .invalidPackage(
                "\(streamName) has no info/index.json, so it is not a conda package (or info/ is not at the start "
                    + "of the archive). Build it with conda-build or rattler-build.")
        }
        return InfoMembers(
            indexJSON: index, aboutJSON: found[Self.aboutPath], runExportsJSON: found[Self.runExportsPath],
            pathsJSON: found[Self.pathsPath])
    }

    /// Turns a decoding error from a lower layer into an `invalidPackage` error; storage errors pass through.
    private static func asInvalidPackage(_ error: SluiceError, context: String) -> SluiceError {
        guard error.code == .invalidInput else { return error }
        return SluiceError(
            .invalidPackage,
            "\(context) is truncated or corrupt: \(error.message) Upload the complete, unmodified file.",
            cause: error)
    }

    // MARK: - Validating index.json

    private static func validatedIndex(
        _ bytes: [UInt8], filename: PackageFilename
    ) throws(SluiceError) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw .invalidPackage("info/index.json is not valid JSON: \(error.message) Rebuild the package.")
        }
        guard let index = value.objectValue else {
            throw .invalidPackage("info/index.json is not a JSON object. Rebuild the package.")
        }
        var parts: [String: String] = [:]
        for key in ["name", "version", "build"] {
            guard let text = index[key]?.stringValue, !text.isEmpty else {
                throw .invalidPackage(
                    "info/index.json has no '\(key)' string (found \(index[key].map { "\($0)" } ?? "nothing")). "
                        + "Rebuild the package.")
            }
            parts[key] = text
        }
        guard case .int(let buildNumber) = index["build_number"], buildNumber >= 0 else {
            throw .invalidPackage(
                "info/index.json has no non-negative integer 'build_number'. Rebuild the package.")
        }
        for key in ["depends", "constrains"] {
            switch index[key] {
            case nil, .null:
                break
            case .array(let items) where items.allSatisfy({ $0.stringValue != nil }):
                break
            default:
                throw .invalidPackage(
                    "info/index.json '\(key)' must be a list of strings (match specs). Rebuild the package.")
            }
        }
        for (key, expected) in [("name", filename.name), ("version", filename.version), ("build", filename.build)]
        where parts[key] != expected {
            throw .invalidPackage(
                "The file name '\(filename)' says \(key) '\(expected)' but info/index.json says '\(parts[key] ?? "")'. "
                    + "Upload the file as \(parts["name"] ?? "")-\(parts["version"] ?? "")-\(parts["build"] ?? "")"
                    + "\(filename.format.fileExtension).")
        }
        return index
    }

    /// The subdir from `index.json`: its `subdir` key, else `noarch` for noarch packages or those without a
    /// platform, else `<platform>-<bits or arch>` as conda-build forms it (`osx` + `x86_64` → `osx-64`).
    static func subdir(of index: [String: JSONValue]) throws(SluiceError) -> String {
        if let value = index["subdir"], value != .null {
            guard let subdir = value.stringValue, ChannelNames.isSubdir(subdir) else {
                throw .invalidPackage(
                    "info/index.json has subdir \(value), which is not a conda subdir such as 'linux-64' or 'noarch'.")
            }
            return subdir
        }
        switch index["noarch"] {
        case .string(let kind) where !kind.isEmpty: return "noarch"
        case .bool(true): return "noarch"
        default: break
        }
        guard let platform = index["platform"]?.stringValue, !platform.isEmpty else { return "noarch" }
        guard let arch = index["arch"]?.stringValue, !arch.isEmpty else {
            throw .invalidPackage(
                "info/index.json has platform '\(platform)' but no arch and no subdir, so its subdir is unknown. "
                    + "Rebuild the package with a current conda-build.")
        }
        let archPart: String
        switch arch {
        case "x86_64": archPart = "64"
        case "x86": archPart = "32"
        default: archPart = arch
        }
        let subdir = "\(platform)-\(archPart)"
        guard ChannelNames.isSubdir(subdir) else {
            throw .invalidPackage(
                "info/index.json has no subdir, and platform '\(platform)' with arch '\(arch)' do not form one.")
        }
        return subdir
    }

    // MARK: - Channel data

    private static func channelData(
        index: [String: JSONValue], members: InfoMembers
    ) throws(SluiceError) -> [String: JSONValue] {
        var merged: [String: JSONValue] = [:]
        if let bytes = members.aboutJSON, case .object(let about)? = try? JSONValue.parse(bytes) {
            merged = about
        }
        // conda-index lets index.json win over about.json.
        merged.merge(index) { _, new in new }
        var data: [String: JSONValue] = [:]
        for key in channelDataKeys {
            guard let value = merged[key], value != .null else { continue }
            data[key] = value
        }
        for key in ["description", "summary"] {
            switch data[key] {
            case .string(let text):
                data[key] = .string(flattened(text))
            case .array(let items):
                data[key] = .string(flattened(items.compactMap(\.stringValue).joined()))
            default:
                break
            }
        }
        var runExports: JSONValue = .object([:])
        if let bytes = members.runExportsJSON {
            do throws(SluiceError) {
                switch try JSONValue.parse(bytes) {
                case .object(let object): runExports = .object(object)
                case .array(let list): runExports = .object(["weak": .array(list)])  // a bare list means weak
                default:
                    throw SluiceError.invalidPackage("info/run_exports.json must be an object or a list.")
                }
            } catch {
                throw .invalidPackage(
                    "info/run_exports.json is invalid: \(error.message) Rebuild the package.")
            }
        }
        data["run_exports"] = runExports
        for (key, value) in postInstallFlags(pathsJSON: members.pathsJSON) {
            data[key] = .bool(value)
        }
        return data
    }

    private static func flattened(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " ")
    }

    /// The channeldata booleans conda-index derives from `info/paths.json`: prefix placeholders by file mode,
    /// `etc/conda/activate.d` and `deactivate.d` scripts, and `*/.*-pre-link.*`-style link scripts.
    private static func postInstallFlags(pathsJSON: [UInt8]?) -> [String: Bool] {
        var flags = [
            "binary_prefix": false, "text_prefix": false, "activate.d": false, "deactivate.d": false,
            "pre_link": false, "post_link": false, "pre_unlink": false,
        ]
        guard let pathsJSON, let paths = (try? JSONValue.parse(pathsJSON))?["paths"]?.arrayValue else {
            return flags
        }
        for entry in paths {
            if let placeholder = entry["prefix_placeholder"]?.stringValue, !placeholder.isEmpty {
                switch entry["file_mode"]?.stringValue {
                case "binary": flags["binary_prefix"] = true
                case "text": flags["text_prefix"] = true
                default: break
                }
            }
            guard let path = entry["_path"]?.stringValue else { continue }
            if path.hasPrefix("etc/conda/activate.d") { flags["activate.d"] = true }
            if path.hasPrefix("etc/conda/deactivate.d") { flags["deactivate.d"] = true }
            // fnmatch "*/.*-<script>.*": a hidden file in some directory, named .<name>-<script>.<ext>.
            if let slash = path.lastIndex(of: "/") {
                let base = path[path.index(after: slash)...]
                if base.hasPrefix(".") {
                    for (script, key) in [
                        ("pre-link", "pre_link"), ("post-link", "post_link"), ("pre-unlink", "pre_unlink"),
                    ]
                    where base.contains("-\(script).") {
                        flags[key] = true
                    }
                }
            }
        }
        return flags
    }

    // MARK: - Hashing

    private static func digests(of archive: ArchiveFile) throws(SluiceError) -> (md5: String, sha256: String) {
        var sha256 = SHA256()
        var md5 = Insecure.MD5()
        var offset: UInt64 = 0
        while offset < archive.size {
            let chunk = try archive.read(at: offset, upTo: 1 << 20)
            guard !chunk.isEmpty else {
                throw SluiceError(.storageFailure, "\(archive.url.path) shrank while it was being hashed.")
            }
            sha256.update(data: chunk)
            md5.update(data: chunk)
            offset += UInt64(chunk.count)
        }
        return (hex(md5.finalize()), hex(sha256.finalize()))
    }

    private static func hex(_ digest: some Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        for byte in digest {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A ``ByteSource`` that refuses to yield more than `limit` bytes (the guard against decompression bombs).
struct LimitedSource<Upstream: ByteSource>: ByteSource {
    private var upstream: Upstream
    private let limit: Int
    private let name: String
    private var count = 0

    init(upstream: Upstream, limit: Int, name: String) {
        self.upstream = upstream
        self.limit = limit
        self.name = name
    }

    mutating func read(upTo maxCount: Int) throws(SluiceError) -> [UInt8] {
        // Ask for one byte past the limit so that reaching the limit exactly is not an error.
        let bytes = try upstream.read(upTo: max(1, min(maxCount, limit - count + 1)))
        count += bytes.count
        guard count <= limit else {
            throw .invalidPackage(
                "\(name) decompresses to more than \(limit) bytes of metadata before info/index.json and the other "
                    + "metadata were found; the package is malformed or a decompression bomb.")
        }
        return bytes
    }
}
