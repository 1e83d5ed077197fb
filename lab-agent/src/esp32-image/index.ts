export { CHIP_IDS, CHIP_FACTS, chipById, chipDisplayName, isChipName, flashSizeBytes } from "./chips.js";
export type { ChipName, FlashMode, FlashFreq, FlashSizeName } from "./chips.js";
export { APP_DESC_MAGIC, APP_DESC_SIZE, DEFAULT_IDF_VERSION, decodeAppDesc, encodeAppDesc } from "./app-desc.js";
export type { AppDesc, AppDescInput } from "./app-desc.js";
export { buildEsp32Image } from "./image-writer.js";
export type { BuildEsp32ImageOptions, ImageSegmentInput } from "./image-writer.js";
export { readEsp32Image } from "./image-reader.js";
export type { Esp32ImageInfo, Esp32ImageSegment, ImageFailure } from "./image-reader.js";
export { buildPartitionTable, readPartitionTable, partitionUsage, PARTITION_TABLE_OFFSET, PARTITION_TABLE_MAX, SINGLE_APP_TABLE, TWO_OTA_TABLE, OTA_ONLY_TABLE } from "./partition-table.js";
export type { PartitionEntry, PartitionEntryInput, PartitionTableInfo } from "./partition-table.js";
export { buildFlashLayout, validateImageForFlash, bootloaderOffset, DEFAULT_APP_OFFSET, SECTOR_SIZE } from "./flash-layout.js";
export type { FlashLayoutOptions, FlashTarget } from "./flash-layout.js";
export { formatImageInfo } from "./format-image-info.js";
export { readIdfBuild, readIdfBuildArchive, packIdfBuild, checkBuildForBoard, withFlashSettings, idfBuildImages, FlasherArgsSchema } from "./idf-build.js";
export { packTar, unpackTar, isTar, type TarFile } from "./tar.js";
export type { IdfBuild, IdfBuildFile, IdfFlashSettings, IdfPartRole } from "./idf-build.js";
export { writeIdfBuildDir, type IdfBuildDirOptions } from "./idf-build-writer.js";
export {
  OTADATA_SIZE,
  OTADATA_SECTOR,
  OTA_STATES,
  romCrc32Le,
  otaSelectCrc,
  otaStateName,
  encodeOtaSelectEntry,
  decodeOtaSelectEntry,
  readOtadata,
  activeOtadataIndex,
  otaSlotForSeq,
  nextOtaSelect,
  buildOtadata,
  describeOtaEntry,
} from "./otadata.js";
export type { OtaStateName, OtaSelectEntry, DecodedOtaEntry } from "./otadata.js";
export { checkSignatureV2, loadSigningKey, signImageV2, stripSignatureV2, SIG_SECTOR_SIZE, SIG_BLOCK_SIZE, type SignatureCheck, type SignatureProblem } from "./secure-boot-v2.js";
