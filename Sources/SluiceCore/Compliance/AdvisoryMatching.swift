import Foundation

/// One entry of the editable name-mapping table: a PyPI project and the conda package that ships it, for the
/// packages whose conda name differs (`torch` → `pytorch`, `tables` → `pytables`, `msgpack` → `msgpack-python`).
public struct PackageNameMapping: Codable, Sendable, Hashable {
    /// The PyPI project name (compared after PEP 503 normalisation).
    public var pypiName: String
    /// The conda package name.
    public var condaName: String

    /// Creates a mapping.
    public init(pypiName: String, condaName: String) {
        self.pypiName = pypiName
        self.condaName = condaName
    }
}

/// Name normalisation shared by the matcher and the stores.
public enum PackageNames {
    /// PEP 503 normalisation: lowercase, every run of `-`, `_` and `.` becomes one `-` (`Flask_SQLAlchemy` →
    /// `flask-sqlalchemy`, `ruamel.yaml` → `ruamel-yaml`). Conda names are compared in the same form.
    public static func normalized(_ name: String) -> String {
        var result = ""
        result.reserveCapacity(name.utf8.count)
        var pendingSeparator = false
        for character in name.trimmingCharacters(in: .whitespaces).lowercased() {
            if character == "-" || character == "_" || character == "." {
                pendingSeparator = true
                continue
            }
            if pendingSeparator && !result.isEmpty { result.append("-") }
            pendingSeparator = false
            result.append(character)
        }
        return result
    }
}

/// Which kind of package database an OSV `affected` entry names.
public enum AdvisoryEcosystem: String, Codable, Sendable, Hashable {
    /// `PyPI`: applies to the conda package of the same (or mapped) name when the record is a Python package.
    case pypi
    /// Conda channels (`conda`, `conda-forge`, `anaconda`, `bioconda`, `conda:<channel>`, any case): the conda name.
    case conda

    /// The kind of an OSV ecosystem string, nil for ecosystems that never apply to conda packages (`npm`, `Go`, …).
    public init?(osvEcosystem: String) {
        let base = osvEcosystem.split(separator: ":", maxSplits: 1).first.map(String.init)?.lowercased() ?? ""
        switch base {
        case "pypi": self = .pypi
        case "anaconda", "bioconda": self = .conda
        default:
            guard base.hasPrefix("conda") else { return nil }
            self = .conda
        }
    }
}

/// Evaluates OSV version ranges with conda's version ordering (``VersionOrder``), as the OSV specification's
/// "evaluation" section describes: events sorted by version, `introduced` turns affected on, `fixed` (at or above)
/// and `last_affected` (above) turn it off, and a version must lie below some `limit` when a range has limits.
public enum OSVRangeEvaluator {
    /// Whether `version` lies in `range`; nil when the range is not evaluated (type `GIT` or unknown) or one of its
    /// event versions cannot be read as a conda version.
    public static func contains(_ version: VersionOrder, in range: OSVRange) -> Bool? {
        let type = range.type.uppercased()
        guard type == "ECOSYSTEM" || type == "SEMVER" else { return nil }
        // nil stands for "0" (before every version) in introduced, or "*" (no limit) in limit.
        var events: [(kind: OSVEvent.Kind, version: VersionOrder?)] = []
        for event in range.events {
            var text = event.version.trimmingCharacters(in: .whitespaces)
            if type == "SEMVER", text.hasPrefix("v") || text.hasPrefix("V") { text.removeFirst() }
            if (event.kind == .introduced && text == "0") || (event.kind == .limit && text == "*") {
                events.append((event.kind, nil))
                continue
            }
            guard let order = try? VersionOrder(text) else { return nil }
            events.append((event.kind, order))
        }
        let limits = events.filter { $0.kind == .limit }
        if !limits.isEmpty, !limits.contains(where: { $0.version.map { version < $0 } ?? true }) {
            return false
        }
        let sorted = events.filter { $0.kind != .limit }.enumerated().sorted { left, right in
            switch (left.element.version, right.element.version) {
            case (nil, nil): return left.offset < right.offset
            case (nil, _): return true
            case (_, nil): return false
            case (let a?, let b?):
                let order = a.compare(to: b)
                return order == 0 ? left.offset < right.offset : order < 0
            }
        }.map(\.element)
        var affected = false
        for event in sorted {
            switch event.kind {
            case .introduced:
                if event.version.map({ version >= $0 }) ?? true { affected = true }
            case .fixed:
                if let fixed = event.version, version >= fixed { affected = false }
            case .lastAffected:
                if let last = event.version, version > last { affected = false }
            case .limit:
                break
            }
        }
        return affected
    }

    /// Whether `version` is affected by `entry`: it lies in one of the evaluated ranges or equals (by conda's
    /// ordering, so `1.0 == 1.0.0`) one of the listed versions.
    public static func affects(_ entry: OSVAffected, version: VersionOrder) -> Bool {
        for range in entry.ranges where contains(version, in: range) == true {
            return true
        }
        return entry.versions.contains { (try? VersionOrder($0)) == version }
    }
}

/// Why an advisory applies to a conda record.
public enum AdvisoryMatchReason: String, Codable, Sendable, Hashable {
    /// A PyPI advisory for the same normalised name, and the record is a Python package.
    case pypiSameName = "pypi-same-name"
    /// A PyPI advisory for a project the name-mapping table maps to this conda name.
    case pypiMapped = "pypi-mapped"
    /// The advisory names the conda package directly.
    case conda
}

/// An advisory that applies to a record: the advisory, the `affected` entry that matched and why.
public struct AdvisoryMatch: Sendable, Hashable {
    public var advisory: OSVAdvisory
    public var affected: OSVAffected
    public var reason: AdvisoryMatchReason

    /// Creates a match.
    public init(advisory: OSVAdvisory, affected: OSVAffected, reason: AdvisoryMatchReason) {
        self.advisory = advisory
        self.affected = affected
        self.reason = reason
    }

    /// The versions that fix it according to the matched entry.
    public var fixedVersions: [String] { affected.fixedVersions }
}

/// Advisories indexed by the conda name they can apply to, for fast matching of many records.
///
/// Matching rules: a `PyPI` entry applies to the conda package of the same PEP 503-normalised name when the record
/// is a Python package (a `python` or `python_abi` entry in `depends`, or `noarch: python`), and to the conda names
/// the mapping table gives for it (whatever the record depends on, since the mapping is explicit); a conda entry
/// applies by name. Withdrawn advisories never apply. Each advisory applies at most once per record.
public struct AdvisoryIndex: Sendable {
    private struct Candidate: Sendable {
        var advisoryIndex: Int
        var affectedIndex: Int
        var reason: AdvisoryMatchReason
    }

    /// The indexed advisories (withdrawn ones left out).
    public let advisories: [OSVAdvisory]
    private let candidatesByName: [String: [Candidate]]

    /// Indexes `advisories` with the name-mapping table `mappings`.
    public init(advisories: [OSVAdvisory], mappings: [PackageNameMapping] = []) {
        let live = advisories.filter { $0.withdrawn == nil }
        var condaNamesByPyPIName: [String: [String]] = [:]
        for mapping in mappings {
            condaNamesByPyPIName[PackageNames.normalized(mapping.pypiName), default: []].append(
                PackageNames.normalized(mapping.condaName))
        }
        var candidates: [String: [Candidate]] = [:]
        for (advisoryIndex, advisory) in live.enumerated() {
            for (affectedIndex, entry) in advisory.affected.enumerated() {
                guard let ecosystem = AdvisoryEcosystem(osvEcosystem: entry.ecosystem) else { continue }
                let name = PackageNames.normalized(entry.name)
                switch ecosystem {
                case .conda:
                    candidates[name, default: []].append(
                        Candidate(
                            advisoryIndex: advisoryIndex, affectedIndex: affectedIndex, reason: .conda))
                case .pypi:
                    candidates[name, default: []].append(
                        Candidate(
                            advisoryIndex: advisoryIndex, affectedIndex: affectedIndex, reason: .pypiSameName))
                    for condaName in condaNamesByPyPIName[name] ?? [] where condaName != name {
                        candidates[condaName, default: []].append(
                            Candidate(
                                advisoryIndex: advisoryIndex, affectedIndex: affectedIndex, reason: .pypiMapped))
                    }
                }
            }
        }
        self.advisories = live
        self.candidatesByName = candidates
    }

    /// Whether some advisory could apply to a package called `name` (any version).
    public func mayAffect(name: String) -> Bool {
        candidatesByName[PackageNames.normalized(name)] != nil
    }

    /// Whether conda would treat `record` as a Python package: it depends on `python` or `python_abi`, or it is
    /// `noarch: python`.
    public static func isPythonPackage(_ record: PackageRecord) -> Bool {
        if record.fields["noarch"]?.stringValue == "python" { return true }
        if record.fields["noarch_python"]?.boolValue == true { return true }
        return record.depends.contains { dependency in
            let name = dependency.split(whereSeparator: { $0 == " " || $0 == "=" || $0 == "<" || $0 == ">" })
                .first.map { $0.lowercased() }
            return name == "python" || name == "python_abi"
        }
    }

    /// The advisories that apply to `record` (by its `name` and `version` fields), in index order.
    public func matches(for record: PackageRecord) -> [AdvisoryMatch] {
        guard let candidates = candidatesByName[PackageNames.normalized(record.name)],
            let version = try? VersionOrder(record.version)
        else { return [] }
        var isPython: Bool?
        var matched = Set<Int>()
        var result: [AdvisoryMatch] = []
        for candidate in candidates where !matched.contains(candidate.advisoryIndex) {
            if candidate.reason == .pypiSameName {
                if isPython == nil { isPython = Self.isPythonPackage(record) }
                guard isPython == true else { continue }
            }
            let advisory = advisories[candidate.advisoryIndex]
            let entry = advisory.affected[candidate.affectedIndex]
            guard OSVRangeEvaluator.affects(entry, version: version) else { continue }
            matched.insert(candidate.advisoryIndex)
            result.append(AdvisoryMatch(advisory: advisory, affected: entry, reason: candidate.reason))
        }
        return result
    }
}
