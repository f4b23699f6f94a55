"""Code systems and coded vocabularies (SNOMED CT, ICD-10-CM, LOINC, RxNorm, HL7 v3/v2 tables)."""

from __future__ import annotations

from typing import NamedTuple

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source"
DISCHARGE_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
NUBC_DISCHARGE = "https://www.nubc.org/CodeSystem/PatDischargeStatus"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
COND_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
COND_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0131 = "http://terminology.hl7.org/CodeSystem/v2-0131"
V2_0360 = "http://terminology.hl7.org/CodeSystem/v2-0360"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
NPI = "http://hl7.org/fhir/sid/us-npi"
SSN = "http://hl7.org/fhir/sid/us-ssn"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.19.5.99999.1"
OMB = "urn:oid:2.16.840.1.113883.6.238"
US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
US_CORE_BIRTHSEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
DOC_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
MEDREQ_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"


class Cond(NamedTuple):
    snomed: str
    snomed_display: str
    icd10: str
    icd10_display: str
    text: str  # how clinicians write it in notes


#: Chronic conditions (problem list) and acute diagnoses, keyed by a short internal name.
CONDITIONS: dict[str, Cond] = {
    # chronic
    "t2d": Cond(
        "44054006",
        "Diabetes mellitus type 2",
        "E11.9",
        "Type 2 diabetes mellitus without complications",
        "type 2 diabetes mellitus",
    ),
    "prediabetes": Cond("15777000", "Prediabetes", "R73.03", "Prediabetes", "prediabetes"),
    "htn": Cond(
        "59621000",
        "Essential hypertension",
        "I10",
        "Essential (primary) hypertension",
        "hypertension",
    ),
    "hld": Cond(
        "55822004", "Hyperlipidemia", "E78.5", "Hyperlipidemia, unspecified", "hyperlipidemia"
    ),
    "chf": Cond(
        "42343007",
        "Congestive heart failure",
        "I50.9",
        "Heart failure, unspecified",
        "congestive heart failure",
    ),
    "ckd": Cond(
        "709044004",
        "Chronic kidney disease",
        "N18.30",
        "Chronic kidney disease, stage 3 unspecified",
        "chronic kidney disease",
    ),
    "ckd4": Cond(
        "431857002",
        "Chronic kidney disease stage 4",
        "N18.4",
        "Chronic kidney disease, stage 4 (severe)",
        "CKD stage 4",
    ),
    "copd": Cond(
        "13645005",
        "Chronic obstructive lung disease",
        "J44.9",
        "Chronic obstructive pulmonary disease, unspecified",
        "COPD",
    ),
    "cad": Cond(
        "53741008",
        "Coronary arteriosclerosis",
        "I25.10",
        "Atherosclerotic heart disease of native coronary artery without angina pectoris",
        "coronary artery disease",
    ),
    "afib": Cond(
        "49436004",
        "Atrial fibrillation",
        "I48.91",
        "Unspecified atrial fibrillation",
        "atrial fibrillation",
    ),
    "obesity": Cond("414916001", "Obesity", "E66.9", "Obesity, unspecified", "obesity"),
    "depression": Cond(
        "35489007", "Depressive disorder", "F32.A", "Depression, unspecified", "depression"
    ),
    "cancer_breast": Cond(
        "254837009",
        "Malignant neoplasm of breast",
        "C50.919",
        "Malignant neoplasm of unspecified site of unspecified female breast",
        "breast cancer",
    ),
    "cancer_prostate": Cond(
        "399068003",
        "Malignant tumor of prostate",
        "C61",
        "Malignant neoplasm of prostate",
        "prostate cancer",
    ),
    "cancer_colon": Cond(
        "363406005",
        "Malignant tumor of colon",
        "C18.9",
        "Malignant neoplasm of colon, unspecified",
        "colon cancer",
    ),
    "cancer_lung": Cond(
        "93880001",
        "Primary malignant neoplasm of lung",
        "C34.90",
        "Malignant neoplasm of unspecified part of unspecified bronchus or lung",
        "lung cancer",
    ),
    "liver": Cond(
        "19943007", "Cirrhosis of liver", "K74.60", "Unspecified cirrhosis of liver", "cirrhosis"
    ),
    "dementia": Cond(
        "52448006",
        "Dementia",
        "F03.90",
        "Unspecified dementia without behavioral disturbance",
        "dementia",
    ),
    "stroke_hx": Cond(
        "230690007",
        "Cerebrovascular accident",
        "Z86.73",
        "Personal history of transient ischemic attack, and cerebral infarction without residual deficits",
        "prior stroke",
    ),
    "mi_hx": Cond(
        "22298006",
        "Myocardial infarction",
        "I25.2",
        "Old myocardial infarction",
        "prior myocardial infarction",
    ),
    "anemia": Cond("271737000", "Anemia", "D64.9", "Anemia, unspecified", "chronic anemia"),
    "oa_hip": Cond(
        "239872002",
        "Osteoarthritis of hip",
        "M16.9",
        "Osteoarthritis of hip, unspecified",
        "osteoarthritis of the hip",
    ),
    "oa_knee": Cond(
        "239873007",
        "Osteoarthritis of knee",
        "M17.9",
        "Osteoarthritis of knee, unspecified",
        "osteoarthritis of the knee",
    ),
    "gallstones": Cond(
        "235919008",
        "Calculus of gallbladder",
        "K80.20",
        "Calculus of gallbladder without cholecystitis without obstruction",
        "symptomatic cholelithiasis",
    ),
    # acute (admission / ED diagnoses)
    "pneumonia": Cond(
        "233604007",
        "Pneumonia",
        "J18.9",
        "Pneumonia, unspecified organism",
        "community-acquired pneumonia",
    ),
    "sepsis": Cond("91302008", "Sepsis", "A41.9", "Sepsis, unspecified organism", "sepsis"),
    "chf_exac": Cond(
        "42343007",
        "Congestive heart failure",
        "I50.23",
        "Acute on chronic systolic (congestive) heart failure",
        "acute on chronic systolic heart failure",
    ),
    "copd_exac": Cond(
        "195951007",
        "Acute exacerbation of chronic obstructive airways disease",
        "J44.1",
        "Chronic obstructive pulmonary disease with (acute) exacerbation",
        "COPD exacerbation",
    ),
    "aki": Cond(
        "14669001",
        "Acute renal failure syndrome",
        "N17.9",
        "Acute kidney failure, unspecified",
        "acute kidney injury",
    ),
    "hip_fracture": Cond(
        "5913000",
        "Fracture of neck of femur",
        "S72.001A",
        "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture",
        "right femoral neck fracture",
    ),
    "gi_bleed": Cond(
        "74474003",
        "Gastrointestinal hemorrhage",
        "K92.2",
        "Gastrointestinal hemorrhage, unspecified",
        "gastrointestinal bleed",
    ),
    "uti": Cond(
        "68566005",
        "Urinary tract infectious disease",
        "N39.0",
        "Urinary tract infection, site not specified",
        "urinary tract infection",
    ),
    "cellulitis": Cond(
        "128045006",
        "Cellulitis",
        "L03.115",
        "Cellulitis of right lower limb",
        "right lower extremity cellulitis",
    ),
    "hyperglycemia": Cond(
        "80394007",
        "Hyperglycemia",
        "E11.65",
        "Type 2 diabetes mellitus with hyperglycemia",
        "hyperglycemia",
    ),
    "nstemi": Cond(
        "401314000",
        "Acute non-ST segment elevation myocardial infarction",
        "I21.4",
        "Non-ST elevation (NSTEMI) myocardial infarction",
        "NSTEMI",
    ),
    "afib_rvr": Cond(
        "49436004",
        "Atrial fibrillation",
        "I48.91",
        "Unspecified atrial fibrillation",
        "atrial fibrillation with rapid ventricular response",
    ),
    "stroke": Cond(
        "230690007",
        "Cerebrovascular accident",
        "I63.9",
        "Cerebral infarction, unspecified",
        "acute ischemic stroke",
    ),
    "syncope": Cond("271594007", "Syncope", "R55", "Syncope and collapse", "syncope"),
    "hepatic_enceph": Cond(
        "13920009",
        "Hepatic encephalopathy",
        "K76.82",
        "Hepatic encephalopathy",
        "hepatic encephalopathy",
    ),
    "chest_pain": Cond("29857009", "Chest pain", "R07.9", "Chest pain, unspecified", "chest pain"),
    "back_pain": Cond(
        "279039007", "Low back pain", "M54.50", "Low back pain, unspecified", "low back pain"
    ),
    "headache": Cond("25064002", "Headache", "R51.9", "Headache, unspecified", "headache"),
    "abd_pain": Cond(
        "21522001", "Abdominal pain", "R10.9", "Unspecified abdominal pain", "abdominal pain"
    ),
    "dizziness": Cond("404640003", "Dizziness", "R42", "Dizziness and giddiness", "dizziness"),
    "gastroenteritis": Cond(
        "25374005",
        "Gastroenteritis",
        "A09",
        "Infectious gastroenteritis and colitis, unspecified",
        "gastroenteritis",
    ),
}

CANCERS = ("cancer_breast", "cancer_prostate", "cancer_colon", "cancer_lung")


class Lab(NamedTuple):
    loinc: str
    display: str
    text: str
    unit: str
    decimals: int  # 0 -> integer value
    vital: bool


LABS: dict[str, Lab] = {
    "a1c": Lab(
        "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "Hemoglobin A1c", "%", 1, False
    ),
    "glucose": Lab(
        "2345-7", "Glucose [Mass/volume] in Serum or Plasma", "Glucose", "mg/dL", 0, False
    ),
    "creat": Lab(
        "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "Creatinine", "mg/dL", 2, False
    ),
    "egfr": Lab(
        "62238-1",
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)",
        "eGFR",
        "mL/min/{1.73_m2}",
        0,
        False,
    ),
    "hgb": Lab("718-7", "Hemoglobin [Mass/volume] in Blood", "Hemoglobin", "g/dL", 1, False),
    "wbc": Lab(
        "6690-2", "Leukocytes [#/volume] in Blood by Automated count", "WBC", "10*3/uL", 1, False
    ),
    "sodium": Lab(
        "2951-2", "Sodium [Moles/volume] in Serum or Plasma", "Sodium", "mmol/L", 0, False
    ),
    "potassium": Lab(
        "2823-3", "Potassium [Moles/volume] in Serum or Plasma", "Potassium", "mmol/L", 1, False
    ),
    "bnp": Lab(
        "30934-4",
        "Natriuretic peptide B [Mass/volume] in Serum or Plasma",
        "BNP",
        "pg/mL",
        0,
        False,
    ),
    "hr": Lab("8867-4", "Heart rate", "Heart rate", "/min", 0, True),
    "sbp": Lab("8480-6", "Systolic blood pressure", "Systolic blood pressure", "mm[Hg]", 0, True),
    "dbp": Lab("8462-4", "Diastolic blood pressure", "Diastolic blood pressure", "mm[Hg]", 0, True),
    "bmi": Lab("39156-5", "Body mass index (BMI) [Ratio]", "BMI", "kg/m2", 1, True),
}
BMP = ("glucose", "creat", "egfr", "sodium", "potassium")
CBC = ("hgb", "wbc")
VITALS = ("hr", "sbp", "dbp")
#: human units for notes
LAB_UNIT_TEXT = {
    "a1c": "%",
    "glucose": "mg/dL",
    "creat": "mg/dL",
    "egfr": "mL/min",
    "hgb": "g/dL",
    "wbc": "K/uL",
    "sodium": "mmol/L",
    "potassium": "mmol/L",
    "bnp": "pg/mL",
}


class Med(NamedTuple):
    rxcui: str  # RxNorm ingredient (IN) concept
    name: str
    product: str  # text of the ordered product
    sig: str  # dosage instruction text


MEDS: dict[str, Med] = {
    "metformin": Med(
        "6809",
        "metformin",
        "metformin 500 MG Oral Tablet",
        "500 mg by mouth twice daily with meals",
    ),
    "glargine": Med(
        "274783",
        "insulin glargine",
        "insulin glargine 100 UNT/ML Pen Injector",
        "20 units subcutaneously at bedtime",
    ),
    "lispro": Med(
        "86009",
        "insulin lispro",
        "insulin lispro 100 UNT/ML Injectable Solution",
        "sliding scale subcutaneously with meals",
    ),
    "empagliflozin": Med(
        "1545653", "empagliflozin", "empagliflozin 10 MG Oral Tablet", "10 mg by mouth once daily"
    ),
    "lisinopril": Med(
        "29046", "lisinopril", "lisinopril 10 MG Oral Tablet", "10 mg by mouth once daily"
    ),
    "losartan": Med(
        "52175", "losartan", "losartan potassium 50 MG Oral Tablet", "50 mg by mouth once daily"
    ),
    "amlodipine": Med(
        "17767", "amlodipine", "amlodipine 5 MG Oral Tablet", "5 mg by mouth once daily"
    ),
    "hctz": Med(
        "5487",
        "hydrochlorothiazide",
        "hydrochlorothiazide 25 MG Oral Tablet",
        "25 mg by mouth once daily",
    ),
    "atorvastatin": Med(
        "83367", "atorvastatin", "atorvastatin 40 MG Oral Tablet", "40 mg by mouth at bedtime"
    ),
    "aspirin": Med("1191", "aspirin", "aspirin 81 MG Oral Tablet", "81 mg by mouth once daily"),
    "clopidogrel": Med(
        "32968", "clopidogrel", "clopidogrel 75 MG Oral Tablet", "75 mg by mouth once daily"
    ),
    "metoprolol": Med(
        "6918",
        "metoprolol",
        "metoprolol succinate 25 MG Extended Release Oral Tablet",
        "25 mg by mouth once daily",
    ),
    "carvedilol": Med(
        "20352", "carvedilol", "carvedilol 6.25 MG Oral Tablet", "6.25 mg by mouth twice daily"
    ),
    "furosemide": Med(
        "4603", "furosemide", "furosemide 40 MG Oral Tablet", "40 mg by mouth once daily"
    ),
    "furosemide_iv": Med(
        "4603", "furosemide", "furosemide 10 MG/ML Injectable Solution", "40 mg IV twice daily"
    ),
    "spironolactone": Med(
        "9997", "spironolactone", "spironolactone 25 MG Oral Tablet", "25 mg by mouth once daily"
    ),
    "apixaban": Med(
        "1364430", "apixaban", "apixaban 5 MG Oral Tablet", "5 mg by mouth twice daily"
    ),
    "warfarin": Med(
        "11289",
        "warfarin",
        "warfarin sodium 5 MG Oral Tablet",
        "5 mg by mouth daily, adjust to INR 2-3",
    ),
    "albuterol": Med(
        "435",
        "albuterol",
        "albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
        "2 puffs inhaled every 4-6 hours as needed for shortness of breath",
    ),
    "tiotropium": Med(
        "69120",
        "tiotropium",
        "tiotropium 0.018 MG Inhalation Powder",
        "inhale contents of 1 capsule once daily",
    ),
    "sertraline": Med(
        "36437", "sertraline", "sertraline 50 MG Oral Tablet", "50 mg by mouth once daily"
    ),
    "escitalopram": Med(
        "321988", "escitalopram", "escitalopram 10 MG Oral Tablet", "10 mg by mouth once daily"
    ),
    "donepezil": Med(
        "135447", "donepezil", "donepezil 10 MG Oral Tablet", "10 mg by mouth at bedtime"
    ),
    "lactulose": Med(
        "6218",
        "lactulose",
        "lactulose 10 GM/15ML Oral Solution",
        "30 mL by mouth twice daily, titrate to 2-3 soft stools",
    ),
    "rifaximin": Med(
        "35619", "rifaximin", "rifaximin 550 MG Oral Tablet", "550 mg by mouth twice daily"
    ),
    "pantoprazole": Med(
        "40790",
        "pantoprazole",
        "pantoprazole 40 MG Delayed Release Oral Tablet",
        "40 mg by mouth twice daily",
    ),
    "acetaminophen": Med(
        "161",
        "acetaminophen",
        "acetaminophen 500 MG Oral Tablet",
        "1000 mg by mouth every 8 hours as needed for pain",
    ),
    "oxycodone": Med(
        "7804",
        "oxycodone",
        "oxycodone hydrochloride 5 MG Oral Tablet",
        "5 mg by mouth every 6 hours as needed for severe pain",
    ),
    "enoxaparin": Med(
        "67108",
        "enoxaparin",
        "enoxaparin sodium 40 MG/0.4ML Prefilled Syringe",
        "40 mg subcutaneously once daily",
    ),
    "ceftriaxone": Med(
        "2193", "ceftriaxone", "ceftriaxone 1000 MG Injection", "1 g IV every 24 hours"
    ),
    "azithromycin": Med(
        "18631",
        "azithromycin",
        "azithromycin 250 MG Oral Tablet",
        "500 mg on day 1, then 250 mg daily for 4 days",
    ),
    "vancomycin": Med(
        "11124", "vancomycin", "vancomycin 1000 MG Injection", "15 mg/kg IV every 12 hours"
    ),
    "cefepime": Med("20481", "cefepime", "cefepime 2000 MG Injection", "2 g IV every 8 hours"),
    "amox_clav": Med(
        "19711",
        "amoxicillin / clavulanate",
        "amoxicillin 875 MG / clavulanate 125 MG Oral Tablet",
        "1 tablet by mouth twice daily for 5 days",
    ),
    "cephalexin": Med(
        "2231",
        "cephalexin",
        "cephalexin 500 MG Oral Capsule",
        "500 mg by mouth four times daily for 7 days",
    ),
    "nitrofurantoin": Med(
        "7454",
        "nitrofurantoin",
        "nitrofurantoin 100 MG Oral Capsule",
        "100 mg by mouth twice daily for 5 days",
    ),
    "prednisone": Med(
        "8640", "prednisone", "prednisone 20 MG Oral Tablet", "40 mg by mouth daily for 5 days"
    ),
    "ondansetron": Med(
        "26225",
        "ondansetron",
        "ondansetron 4 MG Oral Tablet",
        "4 mg by mouth every 8 hours as needed for nausea",
    ),
    "ibuprofen": Med(
        "5640",
        "ibuprofen",
        "ibuprofen 400 MG Oral Tablet",
        "400 mg by mouth every 6 hours as needed for pain",
    ),
    "potassium_chloride": Med(
        "8591",
        "potassium chloride",
        "potassium chloride 20 MEQ Extended Release Oral Tablet",
        "20 mEq by mouth once daily",
    ),
}


class Proc(NamedTuple):
    snomed: str
    display: str
    text: str  # note phrasing
    minutes: int  # typical duration


PROCEDURES: dict[str, Proc] = {
    "hip_replacement": Proc(
        "52734007", "Total replacement of hip", "right total hip arthroplasty", 120
    ),
    "knee_replacement": Proc(
        "609588000", "Total knee replacement", "right total knee arthroplasty", 110
    ),
    "pci": Proc(
        "415070008",
        "Percutaneous coronary intervention",
        "percutaneous coronary intervention with drug-eluting stent",
        75,
    ),
    "colectomy": Proc("23968004", "Colectomy", "laparoscopic partial colectomy", 180),
    "cholecystectomy": Proc(
        "45595009", "Laparoscopic cholecystectomy", "laparoscopic cholecystectomy", 90
    ),
    "colonoscopy": Proc("73761001", "Colonoscopy", "colonoscopy", 40),
    "hemodialysis": Proc("302497006", "Hemodialysis", "hemodialysis", 240),
    "echo": Proc("40701008", "Echocardiography", "transthoracic echocardiogram", 45),
    "cxr": Proc("399208008", "Plain chest X-ray", "chest X-ray", 15),
    "ecg": Proc("29303009", "Electrocardiographic procedure", "ECG", 10),
    "ct_head": Proc("303653007", "Computed tomography of head", "CT of the head", 20),
    "blood_culture": Proc("30088009", "Blood culture", "blood cultures", 10),
    "transfusion": Proc(
        "116863004", "Transfusion of red blood cells", "transfusion of packed red blood cells", 180
    ),
    "spirometry": Proc("127783003", "Spirometry", "spirometry", 30),
    "mammography": Proc("71651007", "Mammography", "screening mammogram", 30),
}

# Encounter class / type / priority / admit source / discharge disposition codings ------------------

ENC_CLASS = {
    "AMB": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
    "EMER": {"system": ACT_CODE, "code": "EMER", "display": "emergency"},
    "IMP": {"system": ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
}
ENC_TYPE = {
    "checkup": ("185349003", "Encounter for check up (procedure)"),
    "followup": ("390906007", "Follow-up encounter (procedure)"),
    "problem": ("185347001", "Encounter for problem (procedure)"),
    "ed": ("50849002", "Emergency room admission (procedure)"),
    "ip_emergency": ("183452005", "Emergency hospital admission (procedure)"),
    "ip_elective": ("8715000", "Hospital admission, elective (procedure)"),
}
PRIORITY = {
    "R": "routine",
    "EM": "emergency",
    "UR": "urgent",
    "EL": "elective",
}
ADMIT_SOURCES = {
    "emd": "From accident/emergency department",
    "mp": "From medical practitioner/physician referral",
    "outp": "From outpatient department",
    "gp": "General Practitioner referral",
}


class Disposition(NamedTuple):
    code: str  # HL7 discharge-disposition
    display: str
    nubc: str  # NUBC patient discharge status
    nubc_display: str
    text: str


DISPOSITIONS: dict[str, Disposition] = {
    "home": Disposition("home", "Home", "01", "Discharged to home or self care", "Discharged home"),
    "home_health": Disposition(
        "home",
        "Home",
        "06",
        "Discharged/transferred to home under care of organized home health service organization",
        "Discharged home with home health services",
    ),
    "snf": Disposition(
        "snf",
        "Skilled nursing facility",
        "03",
        "Discharged/transferred to skilled nursing facility (SNF)",
        "Discharged to skilled nursing facility",
    ),
    "rehab": Disposition(
        "rehab",
        "Rehabilitation",
        "62",
        "Discharged/transferred to an inpatient rehabilitation facility",
        "Discharged to inpatient rehabilitation",
    ),
    "transfer": Disposition(
        "other-hcf",
        "Other healthcare facility",
        "02",
        "Discharged/transferred to a short-term general hospital for inpatient care",
        "Transferred to another acute care hospital",
    ),
    "ama": Disposition(
        "aadvice",
        "Left against advice",
        "07",
        "Left against medical advice or discontinued care",
        "Left against medical advice",
    ),
    "expired": Disposition("exp", "Expired", "20", "Expired", "Expired"),
}

RACES = (  # (code, display, weight)
    ("2106-3", "White", 62.0),
    ("2054-5", "Black or African American", 14.0),
    ("2028-9", "Asian", 6.5),
    ("1002-5", "American Indian or Alaska Native", 1.5),
    ("2076-8", "Native Hawaiian or Other Pacific Islander", 0.5),
    ("UNK", "Unknown", 3.0),
)
ETHNICITIES = (
    ("2135-2", "Hispanic or Latino"),
    ("2186-5", "Not Hispanic or Latino"),
)
MARITAL_STATUS = {
    "M": "Married",
    "S": "Never Married",
    "D": "Divorced",
    "W": "Widowed",
}
