// A Kafka topic as a sink: `kafka://BOOTSTRAP/TOPIC?key=F1,F2&header.NAME=VALUE`.
//
// Each record is one message: the value is the record as JSON, the key the named fields
// of it (joined with '|'; no key: librdkafka spreads messages over partitions), the
// timestamp the record's event time, and the `header.*` parameters its headers. The sink
// takes JSON lines (a RawSinkConnector; JsonSink<T> encodes a job's records).
//
// Without checkpoints every sink instance has an idempotent producer (retries neither
// duplicate nor reorder) and the run flushes it before it ends.
//
// With checkpoints the sink is exactly-once (unless `delivery=at-least-once`: flush on
// every barrier). librdkafka cannot resume another process's transaction, so the sink
// stages output durably and commits it in a Kafka transaction once its checkpoint is
// complete:
//  - between barriers, instance i appends its records to a staging file under
//    CHECKPOINT_DIR/kafka-sink/TOPIC/;
//  - on barrier n it syncs the file, ends it with a trailer (a random token of the file and
//    the checkpoint it belongs to) and lists it in checkpoint n (pre-commit);
//  - when checkpoint n is complete, the transactional producer of instance i
//    (transactional.id PREFIX-i; PREFIX defaults to kappa-JOB-TOPIC) produces the file in
//    one transaction which also carries its proof: an offset commit (offset 0, partition 0
//    of the topic) for the consumer group named PREFIX-i, whose metadata says
//    "kappa-sink v1 lineage=L checkpoint=n [final=T]". L is a random token kept in the
//    staging directory (a new checkpoint directory writing to a reused topic is a new
//    lineage and finds nothing of its own committed); T is the final epoch's file token
//    (its checkpoint id is unknown when it is staged). Then the file is deleted;
//  - before the first commit of a run, and on recovery for every instance that staged or
//    committed anything here, the producer is opened first (init_transactions fences a
//    zombie of the crashed run and completes or aborts what it left open) and then the
//    group's committed metadata is read (read_committed): a staged file is skipped when
//    the proof says it was committed. `committed-SSS` files remember which instances
//    committed (written after Kafka's commit, they are a lower bound); Kafka is the
//    truth, so a crash between Kafka's commit and anything the sink writes locally
//    produces nothing twice. A savepoint restored into another checkpoint directory
//    lists files staged in the old one: that directory's lineage decides for them.
// Consumers see each checkpoint's output once, atomically, with isolation.level=
// read_committed.
//
// Zombies: a run that was frozen while a newer run of the job took over must write
// nothing more. Fencing is fatal (as in Flink): once a producer is fenced, the sink opens
// no producer with that id again and the run fails with one line ("fenced: another process
// took over transactional id X ..."). And the run checks its claim on the checkpoint
// directory (ExactlyOnceContext::check_owner) before it creates or seals a staged file,
// opens a producer, begins a transaction and records a commit, so that it neither fences
// the newer run's producers nor touches its staged files. The claim's check is not atomic
// with the write after it; the fencing is what guarantees the topic.
//
// Rewinding: restoring checkpoint r while Kafka already holds output committed after r
// (r is older than the newest checkpoint, or a run finished after it) would write that
// output again; Kafka cannot withdraw committed records, and a rerun does not reproduce the
// same epochs (barriers fall at other input positions). So recovery refuses with one line,
// unless the sink URI says `on-rewind=duplicate` (then it warns and writes them again).
// `--fresh` is a deliberate start over and is not refused.
//
// Declared without librdkafka's headers; the connector is in kafka_sink.cc.
#ifndef KAPPA_CONNECTORS_KAFKA_KAFKA_SINK_H_
#define KAPPA_CONNECTORS_KAFKA_KAFKA_SINK_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kappa/base/file_writer.h"
#include "kappa/checkpoint/checkpointing.h"
#include "kappa/connectors/kafka/endpoint.h"
#include "kappa/connectors/raw.h"

namespace kappa::connectors::kafka {

// The topic of `endpoint` as a sink of JSON lines. Fails fast (one line naming the
// endpoint) when the brokers cannot be reached or the topic does not exist.
absl::StatusOr<std::shared_ptr<RawSinkConnector>> NewKafkaSink(KafkaEndpoint endpoint);

class Producer;  // kafka_client.h

// Keys of records: the named top-level fields of the encoded JSON.
class KeyExtractor {
 public:
  explicit KeyExtractor(std::vector<std::string> fields) : fields_(std::move(fields)) {}
  absl::Status Extract(std::string_view json, std::string* key) const;
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<std::string> fields_;
};

// Stages one sink instance's output between barriers (framed records in a hidden file,
// ended by a trailer frame with the file's token and checkpoint; see kafka_sink.cc).
class StagingFile {
 public:
  StagingFile(std::string dir, int subtask) : dir_(std::move(dir)), subtask_(subtask) {}
  // The run restored checkpoint `id`: a final epoch staged before any barrier comes after it.
  void StartAfter(int64_t id) { after_ = id; }
  // Checked before a new file is created and before one is sealed (ExactlyOnceContext).
  void set_check_owner(std::function<absl::Status()> check) { check_owner_ = std::move(check); }
  absl::Status Append(std::string_view value, std::string_view key, int64_t ts);
  // Syncs and closes the current file and names it after checkpoint `id`; "" when nothing
  // was written since the last seal.
  absl::StatusOr<std::string> Seal(int64_t id);
  // The token in the trailer of the file sealed last.
  const std::string& token() const { return token_; }

 private:
  absl::Status Drain();
  std::string dir_;
  int subtask_;
  std::function<absl::Status()> check_owner_;
  int64_t after_ = -1;  // the last barrier passed
  std::string token_;
  std::unique_ptr<FileWriter> file_;
  std::string path_;
  std::string buf_;
};

// Commits staged files in Kafka transactions, one transactional producer per instance,
// each transaction with its proof (see above). Called by the checkpoint coordinator's
// thread (Commit) and before the run (Recover); a mutex serialises them.
//
// A transient failure (the broker is unreachable, an abortable transaction) leaves the
// staged file; the next Commit retries it with a new producer. Fencing does not: once a
// producer is fenced (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH: a newer process called
// init_transactions with its transactional id) or hit any other fatal error, this
// committer opens no producer again and every Commit and Recover returns the same fatal
// error (checkpoint::MarkFatal), which stops the run. Opening a new producer would take
// the id back from the newer run and commit this run's output a second time.
class TransactionCommitter {
 public:
  // `endpoint.params` may hold on-rewind=duplicate (see Recover).
  TransactionCommitter(KafkaEndpoint endpoint, std::string stage_dir, std::string transactional_prefix);
  ~TransactionCommitter();
  // Checked before each transaction and before each local record of a commit
  // (ExactlyOnceContext::check_owner); its error is returned as it is.
  void set_check_owner(std::function<absl::Status()> check) { check_owner_ = std::move(check); }
  // Commits each staged file not committed yet, in order. Idempotent. A final epoch's
  // published name ends with "#TOKEN", its file's token: after its commit the file is gone
  // and the name is what recognises it in the proof.
  absl::Status Commit(const std::vector<checkpoint::PendingFile>& pending);
  // Before a run: fence the crashed run's producers and read their proofs, refuse (or with
  // on-rewind=duplicate warn) when Kafka holds output committed after checkpoint
  // `restored` (-1: none restored, no check), commit what the restored checkpoint
  // pre-committed and Kafka has not, and delete staging files of epochs that never
  // completed.
  absl::Status Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored);

  // The consumer group whose committed metadata proves instance `subtask`'s commits: the
  // transactional id itself.
  std::string ProofGroup(int subtask) const;

  // The proof a commit transaction carries (its offset metadata; kafka_sink.cc formats it).
  struct Proof {
    std::string lineage;
    int64_t checkpoint = -1;
    std::string final_token;
  };

 private:
  struct Instance {
    std::unique_ptr<Producer> producer;
    bool proof_read = false;
    Proof proof;  // the newest, whichever lineage it names
  };
  // What Kafka has of one staging directory's output for an instance.
  struct Committed {
    int64_t checkpoint = -1;  // newest checkpoint whose output (or a final after it) is committed
    std::string final_token;  // the committed final epoch's file, if the proof names one
  };
  absl::Status LoadLineage();
  absl::StatusOr<Instance*> Open(int subtask);
  std::string LineageOf(const std::string& dir);
  Committed View(int subtask, const std::string& dir);
  // Whether Kafka has the file staged in `dir` for checkpoint `id` (token: a final epoch's).
  bool IsCommitted(int subtask, const std::string& dir, int64_t id, const std::string& token);
  absl::Status RecordCommitted(int subtask, int64_t id);
  absl::Status CommitFile(const std::string& path, const std::string& published);
  absl::Status CheckOwner() const { return check_owner_ ? check_owner_() : absl::OkStatus(); }

  KafkaEndpoint endpoint_;
  std::string stage_dir_;
  std::string prefix_;
  bool duplicate_on_rewind_ = false;
  std::function<absl::Status()> check_owner_;
  std::mutex mu_;
  absl::Status fenced_;  // fatal: set once, never cleared
  std::string lineage_;
  std::map<int, Instance> instances_;
};

// The staged file of instance `subtask` for checkpoint `id` (kFinalId: the run's end).
inline constexpr int64_t kFinalId = INT64_MAX;
std::string StagedName(const std::string& dir, int subtask, int64_t id);

}  // namespace kappa::connectors::kafka

#endif  // KAPPA_CONNECTORS_KAFKA_KAFKA_SINK_H_
