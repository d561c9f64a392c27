import Foundation

/// Builds the index documents a channel serves: `repodata.json`, `current_repodata.json` and `channeldata.json`.
///
/// Output is compact JSON with keys sorted by their UTF-8 bytes, the form conda-index writes with `sort_keys=True`
/// and compact separators, so the same records always give the same bytes (and so the same ETag).
public enum RepodataBuilder {
    /// `<subdir>/repodata.json`: `{"info":{"subdir":S},"packages":{…},"packages.conda":{…},"removed":[],
    /// "repodata_version":1}`. `.tar.bz2` records go under `packages`, `.conda` records under `packages.conda`,
    /// each keyed by its file name with ``PackageRecord/fields`` as the value. When two records share a file name
    /// the last one wins.
    public static func repodata(subdir: String, records: [PackageRecord]) -> [UInt8] {
        RepodataWriter.repodata(subdir: subdir, table: RecordTable(records: records), reuse: nil).bytes
    }

    /// `<subdir>/current_repodata.json`, following conda-index's `build_current_repodata` (without pins):
    ///
    /// 1. Like conda, consider every `.conda` record and only those `.tar.bz2` records without a `.conda` twin.
    /// 2. For each name, keep all records of its newest version (conda's `name=<newest>` spec, a prefix match),
    ///    where records are ordered by version, build number, non-noarch before noarch, timestamp and build string.
    /// 3. For every `depends` spec of a kept record that no kept record satisfies, add all records of the newest
    ///    version that satisfies it from the full set. This is one pass, as in conda-index: dependencies of records
    ///    added here are not chased further.
    /// 4. For each name whose kept records carry `features` or `track_features`, also keep the newest record from
    ///    the full set whose version is not newer and that has neither.
    /// 5. Every kept `.conda` record gets `legacy_bz2_md5`: the md5 of its `.tar.bz2` twin, or `null` if there is none.
    ///
    /// Records whose version conda cannot parse are left out. When two records share a file name the last one wins.
    public static func currentRepodata(subdir: String, records: [PackageRecord]) -> [UInt8] {
        let table = RecordTable(records: records)
        let repodata = RepodataWriter.repodata(subdir: subdir, table: table, reuse: nil)
        return Array(currentRepodata(subdir: subdir, table: table, repodata: repodata))
    }

    /// `current_repodata.json` of `table`, copying each kept record's JSON from `repodata` (written for `table`),
    /// written into storage from `storage`.
    static func currentRepodata(
        subdir: String, table: RecordTable, repodata: RepodataWriter.Document, storage: DocumentStorage = .arrays
    ) -> Data {
        let selector = CurrentRepodataSelector(table: table)
        return RepodataWriter.current(
            subdir: subdir, table: table, kept: selector.select(), legacyMD5: selector.legacyMD5, repodata: repodata,
            storage: storage)
    }

    /// The records with duplicate file names removed (the last one wins), in input order otherwise.
    static func unique(_ records: [PackageRecord]) -> [PackageRecord] {
        RecordTable(records: records).records
    }

    // MARK: channeldata.json

    /// Keys whose value is `true` in `channeldata.json` when any package of the name has them true.
    static let channelDataFlagKeys: Set<String> = [
        "binary_prefix", "text_prefix", "activate.d", "deactivate.d", "pre_link", "post_link", "pre_unlink",
    ]

    /// `channeldata.json` at the channel root (CEP 38), for `GET /<channel>/channeldata.json`.
    ///
    /// - `channeldata_version`: 1; `subdirs`: every subdir that has packages, plus `noarch`, sorted.
    /// - `packages`: name → the ``StoredPackage/channelData`` of the name's newest package (highest
    ///   ``VersionOrder``, then newest timestamp; a `.conda` is preferred over its `.tar.bz2` twin), with
    ///   `version` (that package's version), `subdirs` (all subdirs holding the name, sorted), `license` (from the
    ///   record when present), `reference_package` (`<subdir>/<filename>`), `timestamp` (the newest record
    ///   timestamp of the name, in **seconds**), the flag keys (`binary_prefix`, `text_prefix`, `activate.d`, …) true
    ///   when any package has them true, and `run_exports` keyed by version (from each version's newest package whose
    ///   channel data has a non-empty `run_exports`). `null` values and `commits` are dropped, as conda-index does.
    public static func channeldata(packages: [StoredPackage]) -> [UInt8] {
        var subdirs: Set<String> = ["noarch"]
        var byName: [String: [StoredPackage]] = [:]
        for package in packages {
            subdirs.insert(package.subdir)
            byName[package.name, default: []].append(package)
        }
        var entries: [String: JSONValue] = [:]
        // Each distinct version string is parsed once (a proxied subdir has hundreds of builds per version).
        var versions: [String: VersionOrder?] = [:]
        struct Stem: Hashable {
            var subdir: String
            var stem: Substring
        }
        for (name, group) in byName {
            let ranked = group.map { package in
                let version: VersionOrder?
                if let known = versions[package.version] {
                    version = known
                } else {
                    version = try? VersionOrder(package.version)
                    versions[package.version] = version
                }
                return (package: package, version: version)
            }
            // Prefer .conda over a .tar.bz2 twin, as conda-index does.
            var condaStems = Set<Stem>()
            for package in group where package.record.format == .conda {
                condaStems.insert(Stem(subdir: package.subdir, stem: package.filename.dropLast(6)))
            }
            let candidates = ranked.filter { entry in
                entry.package.record.format == .conda
                    || !condaStems.contains(
                        Stem(subdir: entry.package.subdir, stem: entry.package.filename.dropLast(8)))
            }
            guard
                let newest = candidates.max(by: { lhs, rhs in
                    Self.channelDataPrecedes(lhs.package, lhs.version, rhs.package, rhs.version)
                })
            else { continue }

            var entry = newest.package.channelData
            entry["commits"] = nil
            entry["version"] = .string(newest.package.version)
            entry["subdirs"] = .array(Set(group.map(\.subdir)).sorted().map(JSONValue.string))
            if let license = newest.package.record.fields["license"], license != .null {
                entry["license"] = license
            }
            entry["reference_package"] = .string("\(newest.package.subdir)/\(newest.package.filename)")
            let newestTimestamp = group.compactMap { $0.record.fields["timestamp"]?.intValue }.max() ?? 0
            entry["timestamp"] = .int(Self.seconds(newestTimestamp))
            for key in channelDataFlagKeys {
                let values = group.compactMap { $0.channelData[key] }
                guard !values.isEmpty || entry[key] != nil else { continue }
                entry[key] = .bool(values.contains { $0.boolValue == true })
            }
            // run_exports keyed by version: the newest package of each version that has any.
            var runExportsByVersion: [String: (StoredPackage, VersionOrder?)] = [:]
            for candidate in candidates {
                guard let exports = candidate.package.channelData["run_exports"], Self.isNonEmpty(exports) else {
                    continue
                }
                let version = candidate.package.version
                if let existing = runExportsByVersion[version],
                    !Self.channelDataPrecedes(existing.0, existing.1, candidate.package, candidate.version)
                {
                    continue
                }
                runExportsByVersion[version] = (candidate.package, candidate.version)
            }
            var runExports: [String: JSONValue] = [:]
            for (version, source) in runExportsByVersion {
                runExports[version] = source.0.channelData["run_exports"]
            }
            entry["run_exports"] = .object(runExports)
            entries[name] = .object(entry.filter { $0.value != .null })
        }
        let document: JSONValue = .object([
            "channeldata_version": .int(1),
            "subdirs": .array(subdirs.sorted().map(JSONValue.string)),
            "packages": .object(entries),
        ])
        return document.compactJSON()
    }

    /// Order used to pick a name's newest package in channeldata: version, then timestamp, then subdir/filename.
    static func channelDataPrecedes(
        _ lhs: StoredPackage, _ lhsVersion: VersionOrder?, _ rhs: StoredPackage, _ rhsVersion: VersionOrder?
    ) -> Bool {
        switch (lhsVersion, rhsVersion) {
        case (nil, .some): return true
        case (.some, nil): return false
        case (.some(let a), .some(let b)) where a != b: return a < b
        default: break
        }
        let lhsTime = seconds(lhs.record.fields["timestamp"]?.intValue ?? 0)
        let rhsTime = seconds(rhs.record.fields["timestamp"]?.intValue ?? 0)
        if lhsTime != rhsTime { return lhsTime < rhsTime }
        return "\(lhs.subdir)/\(lhs.filename)" < "\(rhs.subdir)/\(rhs.filename)"
    }

    static func isNonEmpty(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return false
        case .object(let object): return !object.isEmpty
        case .array(let array): return !array.isEmpty
        case .string(let string): return !string.isEmpty
        default: return true
        }
    }

    /// conda-index's `_make_seconds`: timestamps above year 9999 in seconds are milliseconds.
    static func seconds(_ timestamp: Int64) -> Int64 {
        timestamp > 253_402_300_799 ? timestamp / 1000 : timestamp
    }
}
