import Foundation

extension OSVAdvisory {
    /// Parses OSV JSON: one advisory object, an array of them, or an object with a `vulns` array (the OSV API's
    /// query answer).
    /// - Throws: `SluiceError.invalidInput` when the bytes are not JSON of one of those shapes or an advisory lacks
    ///   its `id` or has a malformed field.
    public static func parse(_ bytes: some Collection<UInt8>) throws(SluiceError) -> [OSVAdvisory] {
        let data = Data(bytes)
        let decoder = JSONDecoder()
        do {
            let top = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            if top is [Any] {
                return try decoder.decode([OSVAdvisory].self, from: data)
            }
            if let object = top as? [String: Any] {
                if object["id"] == nil, object["vulns"] != nil {
                    return try decoder.decode(VulnerabilityList.self, from: data).vulns
                }
                return [try decoder.decode(OSVAdvisory.self, from: data)]
            }
        } catch let error as DecodingError {
            throw SluiceError(.invalidInput, "The OSV advisory is malformed: \(Self.describe(error)).", cause: error)
        } catch {
            throw SluiceError(.invalidInput, "The OSV data is not valid JSON.", cause: error)
        }
        throw .invalidInput("OSV data must be a JSON object (one advisory), an array, or {\"vulns\": [...]}.")
    }

    private struct VulnerabilityList: Decodable {
        var vulns: [OSVAdvisory]
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing '\(key.stringValue)' at '\(path(context))'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(context.debugDescription) at '\(path(context))'"
        @unknown default:
            return "\(error)"
        }
    }
}

/// What an import read: the advisories and the files it had to skip.
public struct OSVImportResult: Sendable {
    /// A file (or zip member) that could not be read as OSV, and why.
    public struct Skipped: Sendable, Hashable {
        /// The path of the file, or `<zip path>!<member>`.
        public var source: String
        public var reason: String
    }

    /// Every advisory read, in the order found (a later one with the same id replaces an earlier one).
    public var advisories: [OSVAdvisory]
    public var skipped: [Skipped]
}

/// Reads OSV advisories from a JSON file, a directory of them (recursively, `*.json`) or a zip of them (as
/// `https://osv-vulnerabilities.storage.googleapis.com/<ecosystem>/all.zip` is: deflate-compressed members).
public enum OSVImport {
    /// The largest single advisory file read (the biggest real ones are a few hundred KiB).
    public static let maximumFileSize = 32 * 1024 * 1024

    /// Reads `url`, choosing by what it is: a directory, a zip (by its signature), or a JSON file.
    ///
    /// A JSON file that is not valid OSV fails the import; inside a directory or a zip, such files are skipped and
    /// listed in the result, and files not ending in `.json` are ignored.
    /// - Throws: `SluiceError.notFound` when `url` does not exist, `.invalidInput` for a malformed single file or a
    ///   corrupt zip, `.storageFailure` when reading fails.
    public static func load(from url: URL) throws(SluiceError) -> OSVImportResult {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .notFound("There is no file or directory at \(url.path).")
        }
        if isDirectory.boolValue {
            return try loadDirectory(url)
        }
        if try fileStartsWithZipSignature(url) {
            return try loadZip(url)
        }
        return OSVImportResult(
            advisories: ComplianceStoreRules.lastOfEachID(try OSVAdvisory.parse(try readFile(url))), skipped: [])
    }

    private static func fileStartsWithZipSignature(_ url: URL) throws(SluiceError) -> Bool {
        let header: Data
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            header = try handle.read(upToCount: 4) ?? Data()
        } catch {
            throw SluiceError(.storageFailure, "Could not read \(url.path).", cause: error)
        }
        return header.starts(with: [0x50, 0x4B, 0x03, 0x04]) || header.starts(with: [0x50, 0x4B, 0x05, 0x06])
    }

    private static func readFile(_ url: URL) throws(SluiceError) -> [UInt8] {
        if let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int,
            size > maximumFileSize
        {
            throw .invalidInput("\(url.path) is \(size) bytes, too large for an OSV advisory.")
        }
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw SluiceError(.storageFailure, "Could not read \(url.path).", cause: error)
        }
    }

    private static func loadDirectory(_ url: URL) throws(SluiceError) -> OSVImportResult {
        guard
            let enumerator = FileManager.default.enumerator(
                at: url, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        else {
            throw SluiceError(.storageFailure, "Could not list the directory \(url.path).")
        }
        var files: [URL] = []
        for case let file as URL in enumerator where file.pathExtension.lowercased() == "json" {
            files.append(file)
        }
        files.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        var advisories: [OSVAdvisory] = []
        var skipped: [OSVImportResult.Skipped] = []
        for file in files {
            do {
                advisories += try OSVAdvisory.parse(try readFile(file))
            } catch {
                skipped.append(.init(source: file.path, reason: error.message))
            }
        }
        return OSVImportResult(advisories: ComplianceStoreRules.lastOfEachID(advisories), skipped: skipped)
    }

    private static func loadZip(_ url: URL) throws(SluiceError) -> OSVImportResult {
        let reader: ZipReader
        do {
            reader = try ZipReader(file: url)
        } catch {
            throw SluiceError(.invalidInput, "\(url.path) is not a readable zip: \(error.message)", cause: error)
        }
        let file = try ArchiveFile(url: url)
        var advisories: [OSVAdvisory] = []
        var skipped: [OSVImportResult.Skipped] = []
        for entry in reader.entries where entry.name.lowercased().hasSuffix(".json") {
            let source = "\(url.path)!\(entry.name)"
            do {
                let bytes = try memberBytes(entry, in: file)
                advisories += try OSVAdvisory.parse(bytes)
            } catch {
                skipped.append(.init(source: source, reason: error.message))
            }
        }
        return OSVImportResult(advisories: ComplianceStoreRules.lastOfEachID(advisories), skipped: skipped)
    }

    /// A member's bytes, stored or deflated, found through its local header.
    private static func memberBytes(_ entry: ZipReader.Entry, in file: ArchiveFile) throws(SluiceError) -> [UInt8] {
        guard !entry.isEncrypted else { throw .invalidInput("The member is encrypted.") }
        guard entry.uncompressedSize <= UInt64(maximumFileSize), entry.compressedSize <= UInt64(maximumFileSize)
        else {
            throw .invalidInput("The member is \(entry.uncompressedSize) bytes, too large for an OSV advisory.")
        }
        let header = try file.read(at: entry.localHeaderOffset, exactly: 30, what: "a zip local header")
        guard header.littleEndianUInt32(at: 0) == 0x0403_4b50 else {
            throw .invalidInput("The member has no local header; the zip is corrupt.")
        }
        let start =
            entry.localHeaderOffset + 30 + UInt64(header.littleEndianUInt16(at: 26))
            + UInt64(header.littleEndianUInt16(at: 28))
        let compressed = try file.read(at: start, exactly: Int(entry.compressedSize), what: "zip member data")
        switch entry.compressionMethod {
        case 0:
            return compressed
        case 8:
            let bytes = try Inflate.decompress(compressed, format: .raw, maxOutputSize: maximumFileSize)
            guard bytes.count == Int(entry.uncompressedSize) else {
                throw .invalidInput(
                    "The member inflates to \(bytes.count) bytes, not the \(entry.uncompressedSize) its directory "
                        + "says; the zip is corrupt.")
            }
            return bytes
        default:
            throw .invalidInput(
                "The member uses zip compression method \(entry.compressionMethod); only stored and deflate are "
                    + "supported.")
        }
    }
}
